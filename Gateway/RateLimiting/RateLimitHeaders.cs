using System.Globalization;

namespace GptjAspire.Gateway.RateLimiting;

/// <summary>The x-ratelimit-* headers OpenAI sends, with their durations written as OpenAI writes them (<c>20ms</c>, <c>1.5s</c>, <c>6m0s</c>).</summary>
public static class RateLimitHeaders
{
    public static readonly string[] Names =
    [
        "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
    ];

    public static string Duration(TimeSpan duration)
    {
        if (duration < TimeSpan.FromSeconds(1))
            return $"{(long)Math.Ceiling(duration.TotalMilliseconds)}ms";
        var seconds = Math.Round(duration.TotalSeconds % 60, 3).ToString("0.###", CultureInfo.InvariantCulture);
        var minutes = (long)duration.TotalMinutes;
        return minutes == 0 ? $"{seconds}s" : $"{minutes}m{seconds}s";
    }
}
