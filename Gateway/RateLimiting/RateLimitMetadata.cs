using System.Threading.RateLimiting;

namespace GptjAspire.Gateway.RateLimiting;

/// <summary>What a <see cref="PerMinuteBucket"/> lease tells about the bucket after the attempt, for the x-ratelimit-* headers.</summary>
public static class RateLimitMetadata
{
    /// <summary>Whole permits left.</summary>
    public static readonly MetadataName<long> Remaining = MetadataName.Create<long>("gptj.remaining");

    /// <summary>Time until the bucket is full again.</summary>
    public static readonly MetadataName<TimeSpan> Reset = MetadataName.Create<TimeSpan>("gptj.reset");
}
