using System.Buffers.Binary;
using System.Text;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>The entries of a PyTorch zip archive (torch.save), located inside the mapped file without copying.</summary>
/// <remarks>PyTorch stores every entry uncompressed (method 0), so an entry is just a byte range of the file.
/// Follows PKWARE APPNOTE 6.3: end of central directory, its ZIP64 variant for files over 4 GiB, central
/// directory headers, and the local header that precedes each entry's data. Every offset and size is checked
/// against the file (ZIP64's 64-bit fields included, which a hostile file may set past <see cref="long.MaxValue"/>)
/// before it is used, and every central directory header must lie inside the directory the end record declares.</remarks>
internal static class PytorchZipArchive
{
    private const uint EndOfCentralDirectory = 0x06054b50;
    private const uint Zip64EndOfCentralDirectory = 0x06064b50;
    private const uint Zip64Locator = 0x07064b50;
    private const uint CentralHeader = 0x02014b50;
    private const uint LocalHeader = 0x04034b50;
    private const int EndRecordSize = 22;
    private const int CentralHeaderSize = 46;
    private const int LocalHeaderSize = 30;

    /// <summary>Entry name → (offset of its data in the file, size).</summary>
    public static Dictionary<string, (long Offset, long Size)> ReadEntries(MappedFile file)
    {
        var eocd = FindEndOfCentralDirectory(file);
        var record = file.Bytes(eocd, EndRecordSize);
        long count = BinaryPrimitives.ReadUInt16LittleEndian(record[10..]);
        long directorySize = BinaryPrimitives.ReadUInt32LittleEndian(record[12..]);
        long directoryOffset = BinaryPrimitives.ReadUInt32LittleEndian(record[16..]);
        if (eocd >= 20 && BinaryPrimitives.ReadUInt32LittleEndian(file.Bytes(eocd - 20, 4)) == Zip64Locator)
        {
            var zip64 = Field(file, BinaryPrimitives.ReadUInt64LittleEndian(file.Bytes(eocd - 20 + 8, 8)), "ZIP64 end record offset");
            var z = file.Bytes(zip64, 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(z) != Zip64EndOfCentralDirectory)
                throw file.Error("ZIP64 end of central directory record is missing");
            count = Field(file, BinaryPrimitives.ReadUInt64LittleEndian(z[32..]), "ZIP64 entry count");
            directorySize = Field(file, BinaryPrimitives.ReadUInt64LittleEndian(z[40..]), "ZIP64 central directory size");
            directoryOffset = Field(file, BinaryPrimitives.ReadUInt64LittleEndian(z[48..]), "ZIP64 central directory offset");
        }
        if (!file.Contains(directoryOffset, directorySize))
            throw file.Error($"central directory ({directorySize} bytes at offset {directoryOffset}) lies outside the file ({file.Length} bytes)");
        if (count > directorySize / CentralHeaderSize)
            throw file.Error($"{count} entries cannot fit a central directory of {directorySize} bytes");

        var entries = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        var position = directoryOffset;
        var directoryEnd = directoryOffset + directorySize;
        for (long i = 0; i < count; i++)
        {
            var header = DirectoryBytes(file, position, CentralHeaderSize, directoryEnd, i);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != CentralHeader)
                throw file.Error($"central directory entry {i} has a bad signature");
            var method = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
            ulong compressed = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            ulong size = BinaryPrimitives.ReadUInt32LittleEndian(header[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(header[32..]);
            ulong localOffset = BinaryPrimitives.ReadUInt32LittleEndian(header[42..]);
            var name = Encoding.UTF8.GetString(DirectoryBytes(file, position + CentralHeaderSize, nameLength, directoryEnd, i));
            ReadZip64Extra(DirectoryBytes(file, position + CentralHeaderSize + nameLength, extraLength, directoryEnd, i), ref size, ref compressed, ref localOffset);
            if (method != 0)
                throw file.Error($"entry '{name}' is compressed (method {method}); PyTorch archives store entries uncompressed");
            if (compressed != size)
                throw file.Error($"stored entry '{name}' declares {compressed} bytes stored for {size} bytes of data");
            var local = file.Bytes(Field(file, localOffset, $"offset of entry '{name}'"), LocalHeaderSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(local) != LocalHeader)
                throw file.Error($"entry '{name}' has a bad local header");
            // Within the file (the local header was read), so these sums of at most 2 x 65535 more cannot overflow.
            var dataOffset = (long)localOffset + LocalHeaderSize + BinaryPrimitives.ReadUInt16LittleEndian(local[26..]) + BinaryPrimitives.ReadUInt16LittleEndian(local[28..]);
            var dataSize = Field(file, size, $"size of entry '{name}'");
            if (!file.Contains(dataOffset, dataSize))
                throw file.Error($"entry '{name}' ({dataSize} bytes at offset {dataOffset}) runs past the end of the file ({file.Length} bytes)");
            if (!entries.TryAdd(name, (dataOffset, dataSize)))
                throw file.Error($"entry '{name}' appears twice in the central directory");
            position += CentralHeaderSize + nameLength + extraLength + commentLength;
        }
        return entries;
    }

    /// <summary>Bytes of central directory entry <paramref name="index"/>, which must lie inside the declared directory.</summary>
    private static ReadOnlySpan<byte> DirectoryBytes(MappedFile file, long position, int length, long directoryEnd, long index) =>
        position <= directoryEnd && length <= directoryEnd - position
            ? file.Bytes(position, length)
            : throw file.Error($"central directory entry {index} runs past the end of the central directory");

    /// <summary>A 64-bit size or offset as a file position: larger than any file is an error, not a negative number.</summary>
    private static long Field(MappedFile file, ulong value, string what) =>
        value <= (ulong)file.Length ? (long)value : throw file.Error($"{what} {value} lies beyond the end of the file ({file.Length} bytes)");

    private static long FindEndOfCentralDirectory(MappedFile file)
    {
        // The record is 22 bytes plus a comment of at most 65535 bytes at the very end.
        var start = Math.Max(0, file.Length - EndRecordSize - 65535);
        var tail = file.Bytes(start, file.Length - start);
        for (var i = tail.Length - EndRecordSize; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail[i..]) == EndOfCentralDirectory)
                return start + i;
        throw file.Error("not a zip archive (no end of central directory); legacy non-zip torch.save files are not supported");
    }

    private static void ReadZip64Extra(ReadOnlySpan<byte> extra, ref ulong size, ref ulong compressed, ref ulong localOffset)
    {
        while (extra.Length >= 4)
        {
            var id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            var length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            var body = extra.Slice(4, Math.Min(length, extra.Length - 4));
            if (id == 0x0001)
            {
                // Only the fields whose 32-bit value is 0xFFFFFFFF appear, in this order.
                if (size == uint.MaxValue && body.Length >= 8) { size = BinaryPrimitives.ReadUInt64LittleEndian(body); body = body[8..]; }
                if (compressed == uint.MaxValue && body.Length >= 8) { compressed = BinaryPrimitives.ReadUInt64LittleEndian(body); body = body[8..]; }
                if (localOffset == uint.MaxValue && body.Length >= 8) localOffset = BinaryPrimitives.ReadUInt64LittleEndian(body);
                return;
            }
            extra = extra[Math.Min(extra.Length, 4 + length)..];
        }
    }
}
