using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>A checkpoint's pages are dropped from the resident set once its tensors are converted, and still read the
/// file's bytes if read again.</summary>
public sealed unsafe class MappedFileTests : IDisposable
{
    private readonly string path = Path.GetTempFileName();

    public void Dispose() => File.Delete(path);

    [Fact]
    public void Released_pages_leave_the_resident_set_and_read_the_same_bytes_again()
    {
        const int size = 64 << 20;
        var bytes = new byte[size];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);

        using var file = MappedFile.Open(path);
        var before = Checksum(file);
        var touched = FileBackedResidentKilobytes();
        // An unaligned range: only the whole pages inside it are dropped, the edges' neighbours are not harmed.
        file.Release(100, size - 200);
        var released = FileBackedResidentKilobytes();

        Assert.True(touched - released >= 48 << 10, $"file-backed resident memory went from {touched} to {released} kB");
        Assert.Equal(before, Checksum(file));
        Assert.Equal(bytes.AsSpan(0, 4096).ToArray(), new ReadOnlySpan<byte>(file.Pointer, 4096).ToArray());
    }

    [Fact]
    public void A_range_outside_the_file_is_not_released()
    {
        File.WriteAllBytes(path, new byte[8192]);
        using var file = MappedFile.Open(path);
        file.Release(4096, 1 << 20);
        file.Release(-4096, 8192);
        Assert.Equal(0, file.Pointer[0]);
    }

    private static long Checksum(MappedFile file)
    {
        long sum = 0;
        for (long i = 0; i < file.Length; i += 8) sum += *(long*)(file.Pointer + i);
        return sum;
    }

    /// <summary>RssFile of /proc/self/status: mapped file pages only, so the test's own allocations do not move it.</summary>
    private static long FileBackedResidentKilobytes() =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("RssFile:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}
