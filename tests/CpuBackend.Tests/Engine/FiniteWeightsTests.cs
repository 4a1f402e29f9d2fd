using System.Runtime.InteropServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>A tensor holding an infinity or a NaN is refused at load, naming it and the first bad element; every finite
/// value, the largest, subnormals and negative zero included, is accepted.</summary>
public sealed class FiniteWeightsTests
{
    public static TheoryData<string, int> BadValues => new()
    {
        // F32: +inf, a quiet NaN, -inf; F16 and BF16 the same, as their bits.
        { "F32", 0x7F80_0000 }, { "F32", 0x7FC0_0001 }, { "F32", unchecked((int)0xFF80_0000) },
        { "F16", 0x7C00 }, { "F16", 0x7E01 }, { "F16", 0xFC00 },
        { "BF16", 0x7F80 }, { "BF16", 0x7FC1 }, { "BF16", 0xFF80 },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void A_non_finite_element_is_refused_naming_the_tensor_and_its_index(string dtype, int bits)
    {
        // Past one vector of any width and not at its start, so both the vector scan and the tail are exercised.
        var values = FiniteValues(dtype, 101);
        Write(values, dtype, 77, bits);

        var error = Assert.Throws<CheckpointFormatException>(() => Scan(values, dtype, 101));

        Assert.Equal("w", error.Tensor);
        Assert.Contains("infinity or NaN at element 77", error.Message);
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Finite_values_of_every_kind_are_accepted(string dtype)
    {
        Scan(FiniteValues(dtype, 101), dtype, 101);
    }

    // Ordinary numbers, the largest finite, the smallest subnormal and negative zero, over and over.
    static byte[] FiniteValues(string dtype, int count)
    {
        int[] pattern = dtype switch
        {
            "F32" => [0x3F80_0000, 0x7F7F_FFFF, 0x0000_0001, unchecked((int)0x8000_0000), unchecked((int)0xC120_0000)],
            "F16" => [0x3C00, 0x7BFF, 0x0001, 0x8000, 0xC900],
            _ => [0x3F80, 0x7F7F, 0x0001, 0x8000, 0xC120],
        };
        var values = new byte[count * Size(dtype)];
        for (var i = 0; i < count; i++)
            Write(values, dtype, i, pattern[i % pattern.Length]);
        return values;
    }

    static void Write(byte[] values, string dtype, int index, int bits)
    {
        if (Size(dtype) == 4)
            MemoryMarshal.Write(values.AsSpan(index * 4), bits);
        else
            MemoryMarshal.Write(values.AsSpan(index * 2), (ushort)bits);
    }

    static int Size(string dtype) => dtype == "F32" ? 4 : 2;

    static unsafe void Scan(byte[] values, string dtype, long count)
    {
        fixed (byte* data = values)
            FiniteWeights.ThrowIfNotFinite(new CheckpointTensor("w", dtype, [count], (nint)data));
    }
}
