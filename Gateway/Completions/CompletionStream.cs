using System.Text.Json;
using System.Threading.Channels;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Metrics;
using GptjAspire.Gateway.Preprocessing;
using GptjAspire.Gptj.V1;

namespace GptjAspire.Gateway.Completions;

/// <summary>Streams a completion request as OpenAI's SSE chunks (in the endpoint's shape), merging the streams of several prompts, ending with <c>data: [DONE]</c>.</summary>
/// <remarks>
/// Nothing is sent (no status, no header) until every prompt's call has been accepted (its first message arrived, or it
/// ended), so a request the Preprocessor refuses for any of its prompts still gets a plain HTTP error, whichever prompt
/// answers first; a failure after that becomes one <c>event: error</c> carrying the OpenAI error body.
/// </remarks>
public sealed class CompletionStream(
    CompletionRequest request, ICompletionShape shape, string id, long created, PreprocessorClient preprocessor, JsonSerializerOptions json, ILogger logger)
{
    static readonly byte[] Done = "[DONE]"u8.ToArray();

    readonly Channel<(int Prompt, GenerateStreamResponse Event)> _events =
        Channel.CreateBounded<(int, GenerateStreamResponse)>(new BoundedChannelOptions(64) { SingleReader = true });
    // True once every call was accepted (the response may be committed), false when one failed before that (it must be a
    // plain error): whichever comes first decides.
    readonly TaskCompletionSource<bool> _accepted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    ApiException? _failure;
    int _running;
    int _unaccepted;

    /// <summary>Streams every prompt's generation as events; true when all of them finished, false when one failed (after its error event).</summary>
    public async Task<bool> WriteAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _running = _unaccepted = request.Prompt.Count;
        var pumps = Enumerable.Range(0, request.Prompt.Count).Select(p => PumpAsync(p, stop.Token)).ToArray();
        var sse = new ServerSentEvents(response);
        try
        {
            if (!await _accepted.Task.WaitAsync(cancellationToken))
                throw _failure!;
            await sse.StartAsync();
            var promptTokens = 0;
            var completionTokens = 0;
            await foreach (var (prompt, message) in _events.Reader.ReadAllAsync(cancellationToken))
            {
                if (message.Delta is { } delta)
                {
                    await WriteChunkAsync(sse, [new CompletionChoice(prompt * request.N + delta.Index, delta.Text, null, null)], null, cancellationToken);
                    GenerationMeasurement.Of(response.HttpContext)?.Sent(prompt * request.N + delta.Index, delta.TokenIds.Count);
                }
                else if (message.Summary is { } summary)
                {
                    promptTokens += summary.Usage.PromptTokens;
                    completionTokens += summary.Usage.CompletionTokens;
                    var finished = summary.Completions
                        .Select(c => new CompletionChoice(prompt * request.N + c.Index, "", null, FinishReasons.ToOpenAi(c.FinishReason)))
                        .ToList();
                    await WriteChunkAsync(sse, finished, null, cancellationToken);
                }
            }

            if (_failure is { } error)
            {
                ApiErrorLog.Record(logger, response.HttpContext.Request, error);
                await sse.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(ApiErrorMapping.Body(error), json), "error", cancellationToken);
                return false;
            }
            if (request.IncludeUsage)
                await WriteChunkAsync(sse, [], new CompletionUsage(promptTokens, completionTokens, promptTokens + completionTokens), cancellationToken);
            await sse.WriteAsync(Done, cancellationToken: cancellationToken);
            return true;
        }
        finally
        {
            // Leaving early (client gone, one prompt failed) must end every call still generating.
            await stop.CancelAsync();
            await Task.WhenAll(pumps);
        }
    }

    async Task PumpAsync(int prompt, CancellationToken cancellationToken)
    {
        var accepted = false;
        try
        {
            await foreach (var message in preprocessor.GenerateStreamAsync(request.ToGenerateRequest(prompt), request.UpstreamFieldNamesFor(prompt), cancellationToken))
            {
                // Accepted before the message is queued: a full queue must not hold back the decision to start.
                if (!accepted)
                {
                    accepted = true;
                    Accept();
                }
                await _events.Writer.WriteAsync((prompt, message), cancellationToken);
            }
            if (!accepted)
                Accept();
            if (Interlocked.Decrement(ref _running) == 0)
                _events.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _events.Writer.TryComplete();
        }
        catch (ChannelClosedException)
        {
            // Another prompt failed first and closed the stream.
        }
        catch (Exception e)
        {
            var error = e as ApiException ?? new ApiException(ApiErrorKind.UpstreamFailure,
                ApiErrorMapping.StableMessage(ApiErrorKind.UpstreamFailure), detail: e.ToString());
            Interlocked.CompareExchange(ref _failure, error, null);
            _events.Writer.TryComplete();
            _accepted.TrySetResult(false);
        }
    }

    void Accept()
    {
        if (Interlocked.Decrement(ref _unaccepted) == 0)
            _accepted.TrySetResult(true);
    }

    Task WriteChunkAsync(ServerSentEvents sse, IReadOnlyList<CompletionChoice> choices, CompletionUsage? usage, CancellationToken cancellationToken)
    {
        var chunk = shape.Chunk(id, created, request.Model, choices, usage);
        return sse.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(chunk, chunk.GetType(), json), cancellationToken: cancellationToken);
    }
}
