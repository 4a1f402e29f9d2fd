using GptjAspire.Gateway.RateLimiting;

namespace GptjAspire.Gateway.Tests.RateLimiting;

/// <summary>Reset durations are written as OpenAI writes them.</summary>
public sealed class RateLimitHeadersTests
{
    [Theory]
    [InlineData(0, "0ms")]
    [InlineData(19.2, "20ms")]
    [InlineData(1500, "1.5s")]
    [InlineData(59_999, "59.999s")]
    [InlineData(360_000, "6m0s")]
    [InlineData(61_250, "1m1.25s")]
    public void Duration_is_milliseconds_under_a_second_then_seconds_then_minutes_and_seconds(double milliseconds, string expected)
    {
        Assert.Equal(expected, RateLimitHeaders.Duration(TimeSpan.FromMilliseconds(milliseconds)));
    }
}
