using GptjAspire.GrpcTransport.Wire;

namespace GptjAspire.GrpcTransport.Tests.Wire;

public sealed class GrpcTimeoutTests
{
    [Theory]
    [InlineData("1H", 36_000_000_000L)]
    [InlineData("2M", 1_200_000_000L)]
    [InlineData("3S", 30_000_000L)]
    [InlineData("250m", 2_500_000L)]
    [InlineData("7u", 70L)]
    [InlineData("500n", 5L)]
    public void Parse_reads_every_unit(string text, long expectedTicks)
    {
        Assert.True(GrpcTimeout.TryParse(text, out var timeout));
        Assert.Equal(expectedTicks, timeout.Ticks);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("10x")]
    [InlineData("-5S")]
    [InlineData("123456789S")]
    public void Parse_rejects_malformed_values(string text) => Assert.False(GrpcTimeout.TryParse(text, out _));

    [Fact]
    public void Format_uses_milliseconds_and_rounds_up()
    {
        Assert.Equal("1501m", GrpcTimeout.Format(TimeSpan.FromTicks(15_000_001)));
    }

    [Fact]
    public void Format_keeps_at_most_eight_digits_for_long_timeouts()
    {
        var text = GrpcTimeout.Format(TimeSpan.FromDays(400));
        Assert.True(text.Length <= 9);
        Assert.True(GrpcTimeout.TryParse(text, out var parsed));
        Assert.True(parsed >= TimeSpan.FromDays(400));
    }
}
