using System.ComponentModel.DataAnnotations;

namespace GptjAspire.Gateway.RateLimiting;

/// <summary>Per-caller limits (per API key, or per client address without keys), bound from <c>Gateway:RateLimits</c>; 0 turns a limit off.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "Gateway:RateLimits";

    /// <summary>Requests to /predict and /v1/* per minute.</summary>
    [Range(0, int.MaxValue)]
    public int RequestsPerMinute { get; set; } = 600;

    /// <summary>Generated tokens per minute, charged when a request is admitted at its most: prompts × n × max_tokens.</summary>
    [Range(0, int.MaxValue)]
    public int TokensPerMinute { get; set; } = 200_000;

    /// <summary>Requests in progress at once, each from its arrival until its response has been sent: a stream until its
    /// last event, however slowly the caller reads it.</summary>
    [Range(0, int.MaxValue)]
    public int ConcurrentRequests { get; set; } = 32;
}
