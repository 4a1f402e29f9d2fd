using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.TritonClient.Tensors;

/// <summary>Maps a .NET element type to its KServe datatype and moves elements between arrays, raw bytes and typed contents.</summary>
/// <remarks>Supported: int (INT32), long (INT64), ulong (UINT64), float (FP32), Half (FP16), bool (BOOL), byte[] and string (BYTES, strings as UTF-8).</remarks>
internal static class TensorElements
{
    public static string DatatypeOf<T>() =>
        typeof(T) == typeof(int) ? KServeDatatype.Int32
        : typeof(T) == typeof(long) ? KServeDatatype.Int64
        : typeof(T) == typeof(ulong) ? KServeDatatype.UInt64
        : typeof(T) == typeof(float) ? KServeDatatype.Fp32
        : typeof(T) == typeof(Half) ? KServeDatatype.Fp16
        : typeof(T) == typeof(bool) ? KServeDatatype.Bool
        : typeof(T) == typeof(byte[]) || typeof(T) == typeof(string) ? KServeDatatype.Bytes
        : throw new NotSupportedException($"{typeof(T).Name} is not a supported tensor element type; use int, long, ulong, float, Half, bool, byte[] or string.");

    public static ByteString ToRaw<T>(ReadOnlySpan<T> values)
    {
        if (typeof(T) == typeof(bool))
        {
            return TensorCodec.EncodeBool(Cast<T, bool>(values));
        }
        if (typeof(T) == typeof(byte[]))
        {
            return TensorCodec.EncodeBytes(Cast<T, byte[]>(values).ToArray());
        }
        if (typeof(T) == typeof(string))
        {
            var strings = Cast<T, string>(values);
            var elements = new byte[strings.Length][];
            for (var i = 0; i < strings.Length; i++)
            {
                elements[i] = Encoding.UTF8.GetBytes(strings[i]);
            }
            return TensorCodec.EncodeBytes(elements);
        }
        return DatatypeOf<T>() switch
        {
            KServeDatatype.Int32 => TensorCodec.EncodeRaw(Cast<T, int>(values)),
            KServeDatatype.Int64 => TensorCodec.EncodeRaw(Cast<T, long>(values)),
            KServeDatatype.UInt64 => TensorCodec.EncodeRaw(Cast<T, ulong>(values)),
            KServeDatatype.Fp32 => TensorCodec.EncodeRaw(Cast<T, float>(values)),
            _ => TensorCodec.EncodeRaw(Cast<T, Half>(values)),
        };
    }

    /// <summary>Reads and checks one tensor: datatype, shape against element count, raw byte size.</summary>
    public static InferTensor<T> Read<T>(string name, string datatype, IReadOnlyList<long> shape, InferTensorContents? contents, ByteString? raw)
    {
        var expected = DatatypeOf<T>();
        if (datatype != expected)
        {
            throw new TensorFormatException(name, $"Tensor '{name}' has datatype {datatype}; expected {expected}.");
        }
        var count = TensorShape.ElementCount(name, shape);
        T[] data;
        if (raw is not null)
        {
            // Decimal, because a shape's count times the element size can pass long.MaxValue.
            if (KServeDatatype.ElementSize(datatype) is { } size && raw.Length != (decimal)count * size)
            {
                throw new TensorFormatException(name, $"Tensor '{name}' ({datatype}, shape {TensorShape.Format(shape)}) needs {(decimal)count * size} bytes; raw contents hold {raw.Length}.");
            }
            data = FromRaw<T>(name, raw.Span);
        }
        else
        {
            data = contents is null ? [] : FromContents<T>(name, contents);
        }
        if (data.LongLength != count)
        {
            throw new TensorFormatException(name, $"Tensor '{name}' ({datatype}, shape {TensorShape.Format(shape)}) needs {count} elements; got {data.LongLength}.");
        }
        return new InferTensor<T>(name, [.. shape], data);
    }

    private static T[] FromRaw<T>(string name, ReadOnlySpan<byte> raw) => DatatypeOf<T>() switch
    {
        KServeDatatype.Int32 => (T[])(object)TensorCodec.DecodeRaw<int>(name, raw),
        KServeDatatype.Int64 => (T[])(object)TensorCodec.DecodeRaw<long>(name, raw),
        KServeDatatype.UInt64 => (T[])(object)TensorCodec.DecodeRaw<ulong>(name, raw),
        KServeDatatype.Fp32 => (T[])(object)TensorCodec.DecodeRaw<float>(name, raw),
        KServeDatatype.Fp16 => (T[])(object)TensorCodec.DecodeRaw<Half>(name, raw),
        KServeDatatype.Bool => (T[])(object)TensorCodec.DecodeBool(raw),
        _ => FromBytes<T>(TensorCodec.DecodeBytes(name, raw)),
    };

    private static T[] FromContents<T>(string name, InferTensorContents contents) => DatatypeOf<T>() switch
    {
        KServeDatatype.Int32 => (T[])(object)contents.IntContents.ToArray(),
        KServeDatatype.Int64 => (T[])(object)contents.Int64Contents.ToArray(),
        KServeDatatype.UInt64 => (T[])(object)contents.Uint64Contents.ToArray(),
        KServeDatatype.Fp32 => (T[])(object)contents.Fp32Contents.ToArray(),
        KServeDatatype.Bool => (T[])(object)contents.BoolContents.ToArray(),
        KServeDatatype.Bytes => FromBytes<T>(contents.BytesContents.Select(b => b.ToByteArray()).ToArray()),
        // KServe v2: FP16 has no typed field and must travel as raw bytes.
        _ => throw new TensorFormatException(name, $"Tensor '{name}' is FP16, which has no typed contents field; send it in raw contents."),
    };

    private static T[] FromBytes<T>(byte[][] elements) => typeof(T) == typeof(string)
        ? (T[])(object)elements.Select(e => Encoding.UTF8.GetString(e)).ToArray()
        : (T[])(object)elements;

    // Only called after DatatypeOf<T> proved TFrom and TTo are the same type.
    private static ReadOnlySpan<TTo> Cast<TFrom, TTo>(ReadOnlySpan<TFrom> values) =>
        MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<TFrom, TTo>(ref MemoryMarshal.GetReference(values)), values.Length);
}
