using System.IO.MemoryMappedFiles;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>A read-only memory map of a whole checkpoint file, addressed by a raw pointer.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile map;
    private readonly MemoryMappedViewAccessor view;

    private MappedFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* pointer, long length)
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

    public static MappedFile Open(string path)
    {
        var length = new FileInfo(path).Length;
        if (length == 0) throw new InvalidDataException($"{path} is empty");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        return new MappedFile(path, map, view, pointer + view.PointerOffset, length);
    }

    /// <summary>The bytes [offset, offset + count), or an error naming the file when they lie outside it.</summary>
    public ReadOnlySpan<byte> Bytes(long offset, long count)
    {
        if (offset < 0 || count < 0 || count > int.MaxValue || offset + count > Length)
            throw new InvalidDataException($"{Path}: range {offset}+{count} lies outside the file ({Length} bytes)");
        return new ReadOnlySpan<byte>(Pointer + offset, (int)count);
    }

    public void Dispose()
    {
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map.Dispose();
    }
}
