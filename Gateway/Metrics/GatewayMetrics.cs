using System.Diagnostics.Metrics;
using GptjAspire.Gateway.Admission;
using GptjAspire.Gateway.Errors;
using GptjAspire.ServiceDefaults;

namespace GptjAspire.Gateway.Metrics;

/// <summary>The Gateway's serving metrics, as its clients experience them, on meter <see cref="MeterName"/>.</summary>
/// <remarks>Latencies use OpenTelemetry's GenAI server conventions (<c>gen_ai.server.*</c>); ours carry the <c>gptj.</c> prefix.
/// Tokens and finish reasons are the Preprocessor's to count, the batch and its queue CpuBackend's.</remarks>
public sealed class GatewayMetrics
{
    public const string MeterName = "GptjAspire.Gateway";

    readonly Histogram<double> _requestDuration;
    readonly Histogram<double> _timeToFirstToken;
    readonly Histogram<double> _timePerOutputToken;
    readonly Counter<long> _errors;

    public GatewayMetrics(IMeterFactory meterFactory, AdmissionQueue admission)
    {
        var meter = meterFactory.Create(MeterName);
        _requestDuration = meter.CreateHistogram<double>("gen_ai.server.request.duration", "s",
            "Duration of a generation request from its arrival to its last byte, queue included (error.type on failure).", advice: GenAiBuckets.RequestSeconds);
        _timeToFirstToken = meter.CreateHistogram<double>("gen_ai.server.time_to_first_token", "s",
            "Streamed requests: time from arrival to the first generated token sent.", advice: GenAiBuckets.FirstTokenSeconds);
        _timePerOutputToken = meter.CreateHistogram<double>("gen_ai.server.time_per_output_token", "s",
            "Streamed requests: the mean time between tokens of one choice after its first (the inter-token latency the client sees).", advice: GenAiBuckets.TokenSeconds);
        _errors = meter.CreateCounter<long>("gptj.gateway.errors", "{error}",
            "Error responses (and error events ending a stream), by API error kind (error.type).");
        // Observed rather than added to: a gauge reports its current value at every collection, 0 included.
        meter.CreateObservableGauge("gptj.gateway.requests.queued", () => admission.Waiting, "{request}",
            "Admitted generation requests waiting for their slots.");
        meter.CreateObservableGauge("gptj.gateway.requests.active", () => admission.Running, "{request}",
            "Backend generation requests holding a slot (in flight to the Preprocessor, one per prompt); the autoscaling signal.");
    }

    /// <summary>Counts an error response; the generation measured on <paramref name="http"/>, if any, ends with that error.</summary>
    public void Error(HttpContext http, ApiErrorKind kind)
    {
        var errorType = kind.ToString();
        _errors.Add(1, new KeyValuePair<string, object?>("error.type", errorType));
        GenerationMeasurement.Of(http)?.Fail(errorType);
    }

    internal void Ended(string operation, double seconds, string? errorType)
    {
        var operationTag = new KeyValuePair<string, object?>("gen_ai.operation.name", operation);
        if (errorType is null)
            _requestDuration.Record(seconds, operationTag);
        else
            _requestDuration.Record(seconds, operationTag, new KeyValuePair<string, object?>("error.type", errorType));
    }

    internal void FirstToken(string operation, double seconds) =>
        _timeToFirstToken.Record(seconds, new KeyValuePair<string, object?>("gen_ai.operation.name", operation));

    internal void PerOutputToken(string operation, double seconds) =>
        _timePerOutputToken.Record(seconds, new KeyValuePair<string, object?>("gen_ai.operation.name", operation));
}
