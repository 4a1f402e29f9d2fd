using System.Diagnostics;

namespace GptjAspire.Gateway.Metrics;

/// <summary>The timing of one generation request, kept on its HttpContext from arrival to the end of its response.</summary>
/// <remarks>Deltas arrive from the single loop that writes the response, so the per-choice state needs no lock.</remarks>
public sealed class GenerationMeasurement(GatewayMetrics metrics, string operation)
{
    readonly long _started = Stopwatch.GetTimestamp();
    readonly Dictionary<int, ChoiceTiming> _choices = [];
    bool _firstTokenSent;
    string? _errorType;

    /// <summary>The measurement of the request on <paramref name="http"/>; null for a request that does not generate.</summary>
    public static GenerationMeasurement? Of(HttpContext http) => http.Features.Get<GenerationMeasurement>();

    /// <summary>A delta of choice <paramref name="choice"/> carrying <paramref name="tokens"/> generated tokens was sent to the client (an echoed prompt carries none).</summary>
    public void Sent(int choice, int tokens)
    {
        if (tokens == 0)
            return;
        var now = Stopwatch.GetTimestamp();
        if (!_firstTokenSent)
        {
            _firstTokenSent = true;
            metrics.FirstToken(operation, Stopwatch.GetElapsedTime(_started, now).TotalSeconds);
        }
        if (_choices.TryGetValue(choice, out var timing))
            _choices[choice] = timing with { Last = now, Tokens = timing.Tokens + tokens };
        else
            _choices[choice] = new ChoiceTiming(now, now, tokens, tokens);
    }

    /// <summary>The request failed with <paramref name="errorType"/> (the first failure is the one recorded).</summary>
    public void Fail(string errorType) => _errorType ??= errorType;

    /// <summary>Records the request's duration and, for a successful stream, each choice's time per output token.</summary>
    public void End()
    {
        metrics.Ended(operation, Stopwatch.GetElapsedTime(_started).TotalSeconds, _errorType);
        if (_errorType is not null)
            return;
        foreach (var timing in _choices.Values)
        {
            var afterFirst = timing.Tokens - timing.FirstTokens;
            if (afterFirst > 0)
                metrics.PerOutputToken(operation, Stopwatch.GetElapsedTime(timing.First, timing.Last).TotalSeconds / afterFirst);
        }
    }

    /// <summary>When a choice's first and latest tokens were sent, how many tokens it sent in all and in its first delta.</summary>
    readonly record struct ChoiceTiming(long First, long Last, int Tokens, int FirstTokens);
}
