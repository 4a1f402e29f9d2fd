using System.Buffers.Binary;
using System.Text;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>The entries of a PyTorch zip archive (torch.save), located inside the mapped file without copying.</summary>
/// <remarks>PyTorch stores every entry uncompressed (method 0), so an entry is just a byte range of the file.
/// Follows PKWARE APPNOTE 6.3: end of central directory, its ZIP64 variant for files over 4 GiB, central
/// directory headers, and the local header that precedes each entry's data.</remarks>
internal static class PytorchZipArchive
{
    private const uint EndOfCentralDirectory = 0x06054b50;
    private const uint Zip64EndOfCentralDirectory = 0x06064b50;
    private const uint Zip64Locator = 0x07064b50;
    private const uint CentralHeader = 0x02014b50;
    private const uint LocalHeader = 0x04034b50;

    /// <summary>Entry name → (offset of its data in the file, size).</summary>
    public static Dictionary<string, (long Offset, long Size)> ReadEntries(MappedFile file)
    {
        var eocd = FindEndOfCentralDirectory(file);
        var record = file.Bytes(eocd, 22);
        long count = BinaryPrimitives.ReadUInt16LittleEndian(record[10..]);
        long directorySize = BinaryPrimitives.ReadUInt32LittleEndian(record[12..]);
        long directoryOffset = BinaryPrimitives.ReadUInt32LittleEndian(record[16..]);
        if (eocd >= 20 && BinaryPrimitives.ReadUInt32LittleEndian(file.Bytes(eocd - 20, 4)) == Zip64Locator)
        {
            var zip64 = (long)BinaryPrimitives.ReadUInt64LittleEndian(file.Bytes(eocd - 20 + 8, 8));
            var z = file.Bytes(zip64, 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(z) != Zip64EndOfCentralDirectory)
                throw Bad(file, "ZIP64 end of central directory record is missing");
            count = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[32..]);
            directorySize = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[40..]);
            directoryOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[48..]);
        }

        var entries = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        var position = directoryOffset;
        for (long i = 0; i < count; i++)
        {
            var header = file.Bytes(position, 46);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != CentralHeader)
                throw Bad(file, $"central directory entry {i} has a bad signature");
            var method = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(header[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(header[32..]);
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(header[42..]);
            var name = Encoding.UTF8.GetString(file.Bytes(position + 46, nameLength));
            ReadZip64Extra(file.Bytes(position + 46 + nameLength, extraLength), ref size, ref compressed, ref localOffset);
            if (method != 0)
                throw Bad(file, $"entry '{name}' is compressed (method {method}); PyTorch archives store entries uncompressed");
            var local = file.Bytes(localOffset, 30);
            if (BinaryPrimitives.ReadUInt32LittleEndian(local) != LocalHeader)
                throw Bad(file, $"entry '{name}' has a bad local header");
            var dataOffset = localOffset + 30 + BinaryPrimitives.ReadUInt16LittleEndian(local[26..]) + BinaryPrimitives.ReadUInt16LittleEndian(local[28..]);
            if (dataOffset + size > file.Length) throw Bad(file, $"entry '{name}' runs past the end of the file");
            entries[name] = (dataOffset, size);
            position += 46 + nameLength + extraLength + commentLength;
        }
        if (position > directoryOffset + directorySize) throw Bad(file, "central directory is longer than declared");
        return entries;
    }

    private static long FindEndOfCentralDirectory(MappedFile file)
    {
        // The record is 22 bytes plus a comment of at most 65535 bytes at the very end.
        var start = Math.Max(0, file.Length - 22 - 65535);
        var tail = file.Bytes(start, file.Length - start);
        for (var i = tail.Length - 22; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail[i..]) == EndOfCentralDirectory)
                return start + i;
        throw Bad(file, "not a zip archive (no end of central directory); legacy non-zip torch.save files are not supported");
    }

    private static void ReadZip64Extra(ReadOnlySpan<byte> extra, ref long size, ref long compressed, ref long localOffset)
    {
        while (extra.Length >= 4)
        {
            var id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            var length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            var body = extra.Slice(4, Math.Min(length, extra.Length - 4));
            if (id == 0x0001)
            {
                // Only the fields whose 32-bit value is 0xFFFFFFFF appear, in this order.
                if (size == uint.MaxValue && body.Length >= 8) { size = (long)BinaryPrimitives.ReadUInt64LittleEndian(body); body = body[8..]; }
                if (compressed == uint.MaxValue && body.Length >= 8) { compressed = (long)BinaryPrimitives.ReadUInt64LittleEndian(body); body = body[8..]; }
                if (localOffset == uint.MaxValue && body.Length >= 8) localOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(body);
                return;
            }
            extra = extra[Math.Min(extra.Length, 4 + length)..];
        }
    }

    private static InvalidDataException Bad(MappedFile file, string problem) => new($"{file.Path}: {problem}");
}
