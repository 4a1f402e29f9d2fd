using System.Numerics;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Refuses a checkpoint tensor holding an infinity or a NaN before it becomes weights.</summary>
/// <remarks>One such value turns every logit it reaches into NaN: sampling then finds no token, and a greedy request returns
/// token 0 over and over, with nothing logged. (The f16 path widens without the rebias multiply, which turns them into large
/// finite values instead, just as silently.) A trained checkpoint has none; a corrupt or crafted one is refused naming the
/// tensor and the first bad element. The scan reads the bytes the load reads next, at memory speed.</remarks>
internal static class FiniteWeights
{
    public static unsafe void ThrowIfNotFinite(CheckpointTensor tensor)
    {
        var bad = tensor.WeightType switch
        {
            // All exponent bits set: an infinity or a NaN.
            WeightType.F32 => FirstWithBits((uint*)tensor.Data, tensor.ElementCount, 0x7F80_0000u),
            WeightType.F16 => FirstWithBits((ushort*)tensor.Data, tensor.ElementCount, (ushort)0x7C00),
            WeightType.BF16 => FirstWithBits((ushort*)tensor.Data, tensor.ElementCount, (ushort)0x7F80),
            _ => -1,
        };
        if (bad >= 0)
            throw new CheckpointFormatException(tensor.File, tensor.Name, $"holds an infinity or NaN at element {bad}: weights must be finite numbers");
    }

    // Spans hold at most int.MaxValue elements; a tensor may hold more.
    const int Chunk = 1 << 30;

    static unsafe long FirstWithBits<T>(T* values, long count, T exponent) where T : unmanaged, IBinaryInteger<T>
    {
        var mask = new Vector<T>(exponent);
        for (long start = 0; start < count; start += Chunk)
        {
            var chunk = new ReadOnlySpan<T>(values + start, (int)Math.Min(Chunk, count - start));
            var i = 0;
            for (; i <= chunk.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                if (Vector.EqualsAny(new Vector<T>(chunk[i..]) & mask, mask))
                    break;
            }
            for (; i < chunk.Length; i++)
            {
                if ((chunk[i] & exponent) == exponent)
                    return start + i;
            }
        }
        return -1;
    }
}
