using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;

namespace GptjAspire.TritonClient.Tensors;

/// <summary>Converts tensor elements to and from the KServe v2 raw form: flattened row-major, little-endian, no padding; BYTES as 4-byte little-endian length-prefixed elements.</summary>
public static class TensorCodec
{
    /// <summary>Encodes fixed-size elements (INT32, INT64, UINT64, FP32, FP16) as little-endian bytes.</summary>
    public static ByteString EncodeRaw<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            ReverseElements(bytes, Marshal.SizeOf<T>());
        }
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>Decodes little-endian fixed-size elements; the byte count must be a whole number of elements.</summary>
    public static T[] DecodeRaw<T>(string tensorName, ReadOnlySpan<byte> raw) where T : unmanaged
    {
        var size = Marshal.SizeOf<T>();
        if (raw.Length % size != 0)
        {
            throw new TensorFormatException(tensorName, $"Tensor '{tensorName}' has {raw.Length} raw bytes, not a multiple of its {size}-byte element size.");
        }
        var bytes = raw.ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            ReverseElements(bytes, size);
        }
        return MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    }

    /// <summary>Encodes BOOL elements, one byte each (0 or 1).</summary>
    public static ByteString EncodeBool(ReadOnlySpan<bool> values)
    {
        var bytes = new byte[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            bytes[i] = values[i] ? (byte)1 : (byte)0;
        }
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>Decodes BOOL elements, one byte each; any non-zero byte is true.</summary>
    public static bool[] DecodeBool(ReadOnlySpan<byte> raw)
    {
        var values = new bool[raw.Length];
        for (var i = 0; i < raw.Length; i++)
        {
            values[i] = raw[i] != 0;
        }
        return values;
    }

    /// <summary>Encodes BYTES elements, each as a 4-byte little-endian length followed by its bytes (KServe v2 / Triton raw BYTES layout).</summary>
    public static ByteString EncodeBytes(IReadOnlyList<byte[]> elements)
    {
        var total = 0;
        foreach (var element in elements)
        {
            total = checked(total + 4 + element.Length);
        }
        var bytes = new byte[total];
        var offset = 0;
        foreach (var element in elements)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(offset), (uint)element.Length);
            element.CopyTo(bytes.AsSpan(offset + 4));
            offset += 4 + element.Length;
        }
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>Decodes length-prefixed BYTES elements; a truncated prefix or element is an error naming the tensor.</summary>
    public static byte[][] DecodeBytes(string tensorName, ReadOnlySpan<byte> raw)
    {
        var elements = new List<byte[]>();
        var offset = 0;
        while (offset < raw.Length)
        {
            if (raw.Length - offset < 4)
            {
                throw new TensorFormatException(tensorName, $"Tensor '{tensorName}' (BYTES) ends with {raw.Length - offset} bytes where a 4-byte length prefix was expected.");
            }
            var length = BinaryPrimitives.ReadUInt32LittleEndian(raw[offset..]);
            offset += 4;
            if ((ulong)length > (ulong)(raw.Length - offset))
            {
                throw new TensorFormatException(tensorName, $"Tensor '{tensorName}' (BYTES) element {elements.Count} declares {length} bytes but only {raw.Length - offset} remain.");
            }
            elements.Add(raw.Slice(offset, (int)length).ToArray());
            offset += (int)length;
        }
        return [.. elements];
    }

    private static void ReverseElements(byte[] bytes, int size)
    {
        for (var i = 0; i < bytes.Length; i += size)
        {
            bytes.AsSpan(i, size).Reverse();
        }
    }
}
