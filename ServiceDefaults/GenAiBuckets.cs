using System.Diagnostics.Metrics;

namespace GptjAspire.ServiceDefaults;

/// <summary>
/// Histogram bucket boundaries that OpenTelemetry's GenAI semantic conventions advise for their metrics. Without advice a
/// histogram gets the SDK's default boundaries (0, 5, 10, 25, ... 10000), which put every latency in seconds in one bucket.
/// </summary>
public static class GenAiBuckets
{
    /// <summary>For <c>gen_ai.server.request.duration</c>, <c>gen_ai.client.operation.duration</c> and other whole-request times.</summary>
    public static readonly InstrumentAdvice<double> RequestSeconds = new()
    {
        HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
    };

    /// <summary>For <c>gen_ai.server.time_to_first_token</c> and queue times.</summary>
    public static readonly InstrumentAdvice<double> FirstTokenSeconds = new()
    {
        HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0],
    };

    /// <summary>For <c>gen_ai.server.time_per_output_token</c> and decode step times.</summary>
    public static readonly InstrumentAdvice<double> TokenSeconds = new()
    {
        HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5],
    };

    /// <summary>For <c>gen_ai.client.token.usage</c>: token counts, powers of 4.</summary>
    public static readonly InstrumentAdvice<int> Tokens = new()
    {
        HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
    };
}
