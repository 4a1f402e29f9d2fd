using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>A private (copy-on-write) memory map of a whole checkpoint file, addressed by a raw pointer.</summary>
/// <remarks>Every read of the file's structure goes through <see cref="Bytes"/> or <see cref="Contains"/>, whose
/// comparisons cannot overflow whatever offset and count a hostile file declares.</remarks>
internal sealed unsafe partial class MappedFile : IDisposable
{
    private const int MadviseDontNeed = 4;

    private readonly MemoryMappedFile? map;
    private readonly MemoryMappedViewAccessor? view;

    private MappedFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* pointer, long length)
    {
        Path = path;
        this.map = map;
        this.view = view;
        Pointer = pointer;
        Length = length;
    }

    public string Path { get; }

    public byte* Pointer { get; }

    public long Length { get; }

    /// <summary>Drops this process's pages of the file's bytes [offset, offset + count) (the whole pages inside them):
    /// once a tensor is converted into the engine's memory, they would otherwise count in the resident set until the
    /// checkpoint closes (GPT-J 6B f16: 20.7 GB at the end of loading instead of 12.6). The map is private and never
    /// written, so a page read again is read from the file.</summary>
    public void Release(long offset, long count)
    {
        if (!OperatingSystem.IsLinux() || !Contains(offset, count)) return;
        var page = Environment.SystemPageSize;
        var start = ((long)Pointer + offset + page - 1) / page * page;
        var end = ((long)Pointer + offset + count) / page * page;
        if (end > start) _ = Madvise((void*)start, (nuint)(end - start), MadviseDontNeed);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);

    public static MappedFile Open(string path)
    {
        var length = new FileInfo(path).Length;
        if (length == 0) throw new CheckpointFormatException(path, null, "the file is empty");
        // Copy-on-write: the engine rewrites f16 rows that hold subnormals in memory (Matrix.Scales), and a page it
        // writes becomes the process's own copy. The file is opened for reading only and never changes.
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        MemoryMappedFile map;
        try
        {
            map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.CopyOnWrite, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            file.Dispose();
            throw;
        }
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.CopyOnWrite);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        return new MappedFile(path, map, view, pointer + view.PointerOffset, length);
    }

    /// <summary>Bytes already in memory, read as if they were the file <paramref name="path"/>; the caller keeps them
    /// alive and in place while this is used. Tests feed thousands of mutated checkpoints this way without writing files.</summary>
    public static MappedFile InMemory(string path, byte* pointer, long length) => new(path, null, null, pointer, length);

    /// <summary>Whether [offset, offset + count) lies inside the file, decided without computing offset + count.</summary>
    public bool Contains(long offset, long count) => offset >= 0 && count >= 0 && offset <= Length && count <= Length - offset;

    /// <summary>The bytes [offset, offset + count), or an error naming the file when they lie outside it.</summary>
    public ReadOnlySpan<byte> Bytes(long offset, long count)
    {
        if (!Contains(offset, count) || count > int.MaxValue)
            throw Error($"range of {count} bytes at offset {offset} lies outside the file ({Length} bytes)");
        return new ReadOnlySpan<byte>(Pointer + offset, (int)count);
    }

    /// <summary>A format error about this file and, where one is concerned, a tensor in it.</summary>
    public CheckpointFormatException Error(string problem, string? tensor = null) => new(Path, tensor, problem);

    public void Dispose()
    {
        if (view is null) return;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map!.Dispose();
    }
}
