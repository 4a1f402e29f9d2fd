using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Four prompt rows attended at once against a double-precision causal attention of each row alone.</summary>
public sealed unsafe class PrefillAttentionTests
{
    public static TheoryData<int, int, int, int, int> Shapes() => new()
    {
        // heads, head_dim (one and several vector chunks, more than the 64 features kept in registers), rows in the block,
        // the heads attended (all, or a range as the forward pass splits them across cores)
        { 1, 16, 1, 0, 1 }, { 3, 32, 4, 0, 3 }, { 2, 64, 3, 0, 2 }, { 2, 80, 2, 0, 2 }, { 1, 256, 4, 0, 1 },
        { 4, 64, 4, 1, 3 }, { 3, 32, 2, 2, 3 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Each_row_gets_the_softmax_weighted_values_of_the_positions_up_to_its_own_and_no_other_row_or_head_is_written(int heads, int headDim, int count,
        int firstHead, int endHead)
    {
        // The four-row kernel is the AVX-512 path; elsewhere (or with DOTNET_EnableAVX512=0) rows are attended one at a time.
        Assert.Equal(Kernels.Wide, PrefillAttention.Supports(headDim));
        if (!Kernels.Wide) return;
        var width = heads * headDim;
        const int first = 2, positionsHeld = 11;
        var random = new Random(heads * 1000 + headDim + count);
        float Next() => (float)(random.NextDouble() * 2 - 1);
        var memory = new KvMemory(2L * positionsHeld * width * sizeof(float), new KvMemoryPool());
        var keys = new KvRows(KvCacheType.F32, width, positionsHeld, memory, memory.Pointer);
        var values = new KvRows(KvCacheType.F32, width, positionsHeld, memory, memory.Pointer + (long)positionsHeld * width * sizeof(float));
        for (var t = 0; t < positionsHeld; t++)
        {
            keys.Write(t, Enumerable.Range(0, width).Select(_ => Next()).ToArray());
            values.Write(t, Enumerable.Range(0, width).Select(_ => Next()).ToArray());
        }
        var positions = new[] { 0, 0, 4, 5, 6, 10, 0 }; // rows first.. first + count - 1 attend 0-4 up to 0-10
        var rows = positions.Length;
        var q = Enumerable.Range(0, rows * width).Select(_ => Next()).ToArray();
        var output = Enumerable.Repeat(float.NaN, rows * width).ToArray();
        var scale = 1f / MathF.Sqrt(headDim);

        PrefillAttention.Attend(q, keys, values, positions, first, count, heads, firstHead, endHead, headDim, scale, output);

        for (var r = 0; r < rows; r++)
        {
            for (var h = 0; h < heads; h++)
            {
                var attended = r >= first && r < first + count && h >= firstHead && h < endHead;
                var expected = Reference(q, keys, values, r * width + h * headDim, h * headDim, headDim, positions[r], scale);
                for (var i = 0; i < headDim; i++)
                {
                    var actual = output[r * width + h * headDim + i];
                    if (attended) Assert.Equal(expected[i], actual, 1e-5);
                    else Assert.True(float.IsNaN(actual), $"row {r}, head {h}, outside the block, was written");
                }
            }
        }
        GC.KeepAlive(memory);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 3)]
    [InlineData(-1, 1)]
    public void A_head_range_outside_the_heads_or_empty_is_refused(int firstHead, int endHead)
    {
        var memory = new KvMemory(2L * 16 * sizeof(float), new KvMemoryPool());
        var rows = new KvRows(KvCacheType.F32, 16, 1, memory, memory.Pointer);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            PrefillAttention.Attend(new float[32], rows, rows, [0], 0, 1, 2, firstHead, endHead, 16, 1f, new float[32]));
        GC.KeepAlive(memory);
    }

    // The forward pass gives each core one head over a run of four-row blocks: the runs cover every block once, in order,
    // and attend about equally many keys (a row attends to its position + 1), also for a prompt that continues a cache;
    // more runs than blocks are as many runs as blocks, and fewer than one is one.
    [Theory]
    [InlineData(200, 0, 8)]
    [InlineData(200, 0, 1)]
    [InlineData(37, 500, 3)]
    [InlineData(9, 0, 3)]
    [InlineData(6, 0, 2)]
    [InlineData(6, 0, 8)]
    [InlineData(9, 0, 0)]
    public void Prompt_runs_cover_every_block_once_with_about_equal_work(int rows, int offset, int wanted)
    {
        var positions = Enumerable.Range(offset, rows).ToArray();
        var blocks = (rows + PrefillAttention.Rows - 1) / PrefillAttention.Rows;
        var count = Math.Clamp(wanted, 1, blocks);

        var runs = GptjModel.PrefillRuns(positions, wanted);

        Assert.Equal(count + 1, runs.Length);
        Assert.Equal(0, runs[0]);
        Assert.Equal(blocks, runs[^1]);
        for (var i = 0; i < count; i++) Assert.True(runs[i] <= runs[i + 1], $"run {i} ends before it starts");
        long Work(int b0, int b1) => positions.Skip(b0 * PrefillAttention.Rows).Take((b1 - b0) * PrefillAttention.Rows).Sum(p => p + 1L);
        var largestBlock = Enumerable.Range(0, blocks).Max(b => Work(b, b + 1));
        for (var i = 0; i < count; i++)
            Assert.InRange(Work(runs[i], runs[i + 1]), 0, (double)Work(0, blocks) / count + largestBlock);
    }

    [Fact]
    public void Heads_whose_features_are_not_whole_vectors_of_sixteen_are_attended_one_row_at_a_time()
    {
        Assert.False(PrefillAttention.Supports(24));
        Assert.False(PrefillAttention.Supports(8));
    }

    private static double[] Reference(float[] q, KvRows keys, KvRows values, int queryAt, int from, int headDim, int position, float scale)
    {
        var scores = new double[position + 1];
        for (var t = 0; t <= position; t++)
        {
            var key = keys.Read(t, from, headDim);
            for (var i = 0; i < headDim; i++) scores[t] += (double)q[queryAt + i] * key[i];
            scores[t] *= scale;
        }
        var max = scores.Max();
        var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
        var sum = weights.Sum();
        var result = new double[headDim];
        for (var t = 0; t <= position; t++)
        {
            var value = values.Read(t, from, headDim);
            for (var i = 0; i < headDim; i++) result[i] += weights[t] / sum * value[i];
        }
        return result;
    }
}
