using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using GptjAspire.Preprocessor.Generation;
using GptjAspire.ServiceDefaults;
using Grpc.Core;

namespace GptjAspire.Preprocessor.Service;

/// <summary>The Preprocessor's view of generation as a client of the backend: call latency, tokens, finish reasons and backend errors, on meter <see cref="MeterName"/>.</summary>
/// <remarks>Names follow OpenTelemetry's GenAI semantic conventions for a client (<c>gen_ai.client.*</c>); ours carry the <c>gptj.</c> prefix.</remarks>
public sealed class PreprocessorMetrics
{
    public const string MeterName = "GptjAspire.Preprocessor";

    /// <summary>The <c>gen_ai.operation.name</c> of every generation: a prompt continued, not a chat.</summary>
    const string Operation = "text_completion";

    readonly Histogram<double> _backendCallDuration;
    readonly Histogram<int> _tokenUsage;
    readonly Counter<long> _completions;
    readonly Counter<long> _backendErrors;

    public PreprocessorMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _backendCallDuration = meter.CreateHistogram<double>("gen_ai.client.operation.duration", "s",
            "Duration of one generation call to the backend, to its last response (error.type on failure).", advice: GenAiBuckets.RequestSeconds);
        _tokenUsage = meter.CreateHistogram<int>("gen_ai.client.token.usage", "{token}",
            "Tokens of one finished generation: its prompt (gen_ai.token.type=input) and all its samples' new tokens (output).", advice: GenAiBuckets.Tokens);
        _completions = meter.CreateCounter<long>("gptj.preprocessor.completions", "{completion}",
            "Samples finished, by finish reason (gen_ai.response.finish_reason: stop, length).");
        _backendErrors = meter.CreateCounter<long>("gptj.preprocessor.backend.errors", "{error}",
            "Backend generation calls that failed, by gRPC status (error.type); a caller that went away is not counted.");
    }

    /// <summary>Passes a backend call's responses through, recording its duration and, if it fails, its status.</summary>
    public async IAsyncEnumerable<T> BackendCall<T>(IAsyncEnumerable<T> call, string model, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        string? errorType = null;
        await using var responses = call.GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await responses.MoveNextAsync();
                }
                catch (Exception e)
                {
                    errorType = ErrorType(e, cancellationToken);
                    if (!cancellationToken.IsCancellationRequested)
                        _backendErrors.Add(1, Tag("gen_ai.request.model", model), Tag("error.type", errorType));
                    throw;
                }
                if (!more)
                    yield break;
                yield return responses.Current;
            }
        }
        finally
        {
            // Also when the caller stops early (every sample reached a stop sequence): the call ends there, successfully.
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (errorType is null)
                _backendCallDuration.Record(seconds, Tag("gen_ai.operation.name", Operation), Tag("gen_ai.request.model", model));
            else
                _backendCallDuration.Record(seconds, Tag("gen_ai.operation.name", Operation), Tag("gen_ai.request.model", model), Tag("error.type", errorType));
        }
    }

    /// <summary>Records a generation that finished: its tokens and each sample's finish reason.</summary>
    public void Completed(GenerationPlan plan, IReadOnlyList<SampleText> samples, string model)
    {
        _tokenUsage.Record(plan.PromptIds.Length,
            Tag("gen_ai.operation.name", Operation), Tag("gen_ai.request.model", model), Tag("gen_ai.token.type", "input"));
        _tokenUsage.Record(samples.Sum(s => s.TokenCount),
            Tag("gen_ai.operation.name", Operation), Tag("gen_ai.request.model", model), Tag("gen_ai.token.type", "output"));
        foreach (var sample in samples)
            _completions.Add(1, Tag("gen_ai.request.model", model), Tag("gen_ai.response.finish_reason", sample.Finish.ToString().ToLowerInvariant()));
    }

    // The gRPC status name (Unavailable, ResourceExhausted, ...); "cancelled" when our own caller went away.
    static string ErrorType(Exception error, CancellationToken cancellationToken) => error switch
    {
        _ when cancellationToken.IsCancellationRequested => "cancelled",
        RpcException rpc => rpc.StatusCode.ToString(),
        _ => error.GetType().Name,
    };

    static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);
}
