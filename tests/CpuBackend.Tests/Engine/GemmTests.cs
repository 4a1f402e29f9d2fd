using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary><see cref="Gemm"/> against a double-precision product on shapes that leave every edge of its blocking partial.</summary>
public sealed class GemmTests
{
    // Rows: below, at and past one panel (8 or 16) and an odd number of panels (the last without a pair); k: below
    // and past the depth block (Gemm.Depth), and not a multiple of eight; n: below one group of weight rows, past a
    // 240-row column block, and large enough to be split across threads; a call is cut into bands of columns and, when
    // those are too few, parts of the rows (Gemm.Plan).
    public static TheoryData<WeightType, int, int, int> Cases()
    {
        var cases = new TheoryData<WeightType, int, int, int>();
        if (!Gemm.IsSupported) return cases;
        foreach (var type in new[] { WeightType.F32, WeightType.F16, WeightType.BF16 })
        {
            foreach (var rows in new[] { 1, 4, 9, 16, 17, 45 })
                foreach (var (n, k) in new[] { (5, 37), (13, 256), (250, 300), (700, 531), (30, Gemm.Depth + 37) })
                    cases.Add(type, rows, n, k);
            // Fewer microkernel groups than the items a call aims for: the rows are split into parts of whole panel pairs,
            // the last one a single panel.
            cases.Add(type, 100, 30, 64);
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemm_matches_double_precision_reference(WeightType type, int rows, int n, int k) =>
        MatMulTests.AssertMatchesDoublePrecision(type, rows, n, k, Gemm.MatMul);
}
