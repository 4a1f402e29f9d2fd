using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Tests.Generation;

public class SequenceRandomTests
{
    [Fact]
    public void Streams_match_the_independent_Python_implementation()
    {
        foreach (var stream in SamplingFixtures.RandomStreams)
        {
            var random = new SequenceRandom(ulong.Parse(stream.GetProperty("seed").GetString()!), stream.GetProperty("sequence").GetInt32());
            foreach (var value in stream.GetProperty("values").EnumerateArray())
                Assert.Equal(ulong.Parse(value.GetString()!), random.NextUInt64());
        }
    }

    [Fact]
    public void Doubles_fill_the_unit_interval()
    {
        var random = new SequenceRandom(3, 0);
        var values = Enumerable.Range(0, 10_000).Select(_ => random.NextDouble()).ToArray();

        Assert.All(values, v => Assert.InRange(v, 0.0, 0.9999999999999999));
        Assert.InRange(values.Average(), 0.49, 0.51);
        Assert.True(values.Min() < 0.001 && values.Max() > 0.999);
    }
}
