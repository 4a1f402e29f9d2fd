using System.Runtime.InteropServices;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Attention's scores and weighted sum against double precision, over f32 and f16 caches, on every path a head size
/// and width can take (GPT-J heads are 64 or 256 features; the test models' are 32).</summary>
public sealed unsafe class HeadKernelsTests
{
    // Head sizes on each path: multiples of 16 (AVX-512), of 8 only (AVX2), neither (scalar); head counts whose widths
    // leave a part of 128 or 64 features to the narrower loops, and heads of 16 and 8 over several of the wide loops'
    // vectors, each vector another head's (so each must find its own weights); lengths around the four positions the
    // scores take at once.
    public static TheoryData<int, int, int> Shapes()
    {
        var shapes = new TheoryData<int, int, int>();
        foreach (var (headDim, heads) in new[] { (64, 16), (64, 3), (32, 3), (16, 1), (16, 9), (256, 2), (24, 5), (8, 9), (5, 2) })
            foreach (var length in new[] { 1, 3, 4, 5, 17, 64 })
                shapes.Add(headDim, heads, length);
        return shapes;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Scores_are_each_heads_dot_products_times_the_factor(int headDim, int heads, int length)
    {
        var width = heads * headDim;
        var query = Values(width, 1);
        using var cache = new Positions<float>(length, width, seed: 2, (random, _) => (float)(random.NextDouble() * 4 - 2));
        var scores = new float[heads * length + 1];
        scores[^1] = 42;

        fixed (float* q = query, s = scores) HeadKernels.Scores<Kernels.F32>(cache.Rows, length, width, headDim, q, 0.125f, s);

        for (var h = 0; h < heads; h++)
            for (var t = 0; t < length; t++)
            {
                var (expected, magnitude) = Sum(Enumerable.Range(h * headDim, headDim).Select(i => (double)query[i] * cache[t, i]));
                Assert.Equal(0.125 * expected, scores[h * length + t], 1e-6 * (1 + magnitude));
            }
        Assert.Equal(42, scores[^1]);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Scores_over_an_f16_cache_match_double_precision_subnormal_halves_included(int headDim, int heads, int length)
    {
        var width = heads * headDim;
        var query = Values(width, 3);
        using var cache = new Positions<Half>(length, width, seed: 4, HalfValue);
        var scaled = query.Select(v => v * HeadKernels.HalfQueryScale).ToArray();
        var scores = new float[heads * length];

        fixed (float* q = scaled, s = scores)
            HeadKernels.Scores<Kernels.F16>(cache.Rows, length, width, headDim, q, 0.125f * Kernels.F16.SumScale, s);

        for (var h = 0; h < heads; h++)
            for (var t = 0; t < length; t++)
            {
                var (expected, magnitude) = Sum(Enumerable.Range(h * headDim, headDim).Select(i => (double)query[i] * (double)cache[t, i]));
                Assert.Equal(0.125 * expected, scores[h * length + t], 1e-6 * (1 + magnitude));
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Weighted_sum_adds_each_heads_values_with_that_heads_weights_and_writes_nothing_past_the_width(int headDim, int heads, int length)
    {
        var width = heads * headDim;
        var weights = Weights(heads, length, seed: 5);
        using var cache = new Positions<float>(length, width, seed: 6, (random, _) => (float)(random.NextDouble() * 4 - 2));
        var output = Enumerable.Repeat(float.NaN, width).Append(42f).ToArray();

        fixed (float* w = weights, o = output) HeadKernels.WeightedSum<Kernels.F32>(cache.Rows, length, width, headDim, w, o);

        for (var f = 0; f < width; f++)
        {
            var (expected, magnitude) = Sum(Enumerable.Range(0, length).Select(t => (double)weights[f / headDim * length + t] * cache[t, f]));
            Assert.Equal(expected, output[f], 1e-6 * (1 + magnitude));
        }
        Assert.Equal(42, output[^1]);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Weighted_sum_of_an_f16_cache_matches_double_precision_subnormal_halves_included(int headDim, int heads, int length)
    {
        var width = heads * headDim;
        var weights = Weights(heads, length, seed: 7);
        using var cache = new Positions<Half>(length, width, seed: 8, HalfValue);
        var widened = weights.Select(w => w * HeadKernels.WideningInverse).ToArray();
        var output = new float[width];

        fixed (float* w = widened, o = output) HeadKernels.WeightedSum<Kernels.F16>(cache.Rows, length, width, headDim, w, o);

        for (var f = 0; f < width; f++)
        {
            var (expected, magnitude) = Sum(Enumerable.Range(0, length).Select(t => (double)weights[f / headDim * length + t] * (double)cache[t, f]));
            Assert.Equal(expected, output[f], 1e-6 * (1 + magnitude));
        }
    }

    /// <summary>A dot product's terms summed in double precision, and the sum of their magnitudes (what the error of a float
    /// sum in another order grows with).</summary>
    private static (double Sum, double Magnitude) Sum(IEnumerable<double> terms)
    {
        double sum = 0, magnitude = 0;
        foreach (var term in terms) (sum, magnitude) = (sum + term, magnitude + Math.Abs(term));
        return (sum, magnitude);
    }

    /// <summary>Halves as an f16 cache holds them, every fifth one a subnormal (below 2^-14) and one a negative zero.</summary>
    private static Half HalfValue(Random random, int i) =>
        i == 3 ? (Half)(-0f) : (Half)(i % 5 == 0 ? (random.NextDouble() - 0.5) * 1e-4 : random.NextDouble() * 4 - 2);

    /// <summary>Each head's attention weights over the positions: a probability distribution, as softmax leaves them.</summary>
    private static float[] Weights(int heads, int length, int seed)
    {
        var random = new Random(seed);
        var weights = new float[heads * length];
        for (var h = 0; h < heads; h++)
        {
            var raw = Enumerable.Range(0, length).Select(_ => random.NextDouble()).ToArray();
            for (var t = 0; t < length; t++) weights[h * length + t] = (float)(raw[t] / raw.Sum());
        }
        return weights;
    }

    private static float[] Values(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
    }

    /// <summary>Positions of a cache in native memory, each at its own address and in no particular order, as a fork's prefix
    /// and its own positions lie; every position is wider than the part the kernels read, which starts past its first
    /// features (an item's heads).</summary>
    private sealed class Positions<T> : IDisposable where T : unmanaged
    {
        private const int Before = 3, After = 5;
        private readonly nint[] _blocks;
        private readonly nint _rows;

        public Positions(int length, int width, int seed, Func<Random, int, T> value)
        {
            var random = new Random(seed);
            _blocks = new nint[length];
            _rows = (nint)NativeMemory.Alloc((nuint)(length * sizeof(nint)));
            foreach (var t in Enumerable.Range(0, length).OrderBy(_ => random.Next()))
            {
                var block = (T*)NativeMemory.Alloc((nuint)((Before + width + After) * sizeof(T)));
                for (var i = 0; i < Before + width + After; i++) block[i] = value(random, i - Before);
                _blocks[t] = (nint)block;
                Rows[t] = (byte*)(block + Before);
            }
        }

        public byte** Rows => (byte**)_rows;

        public T this[int position, int feature] => ((T*)Rows[position])[feature];

        public void Dispose()
        {
            foreach (var block in _blocks) NativeMemory.Free((void*)block);
            NativeMemory.Free((void*)_rows);
        }
    }
}
