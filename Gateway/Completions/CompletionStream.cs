using System.Text.Json;
using System.Threading.Channels;
using GptjAspire.Gateway.Admission;
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
/// The Preprocessor's messages are read as fast as they come, whatever the client's pace: the generation (and the admission
/// slots it holds) ends when the backend's work does, and a client that reads slowly holds only its own output here
/// (bounded by its prompts × n × max_tokens), for at most <c>Gateway:RequestTimeout</c> from the start.
/// </remarks>
public sealed class CompletionStream(
    CompletionRequest request, ICompletionShape shape, string id, long created, PreprocessorClient preprocessor, JsonSerializerOptions json, ILogger logger)
{
    static readonly byte[] Done = "[DONE]"u8.ToArray();

    // Unbounded: a bound would tie reading the Preprocessor to the client's pace, and a client that stopped reading would
    // hold the backend's stream, the admission's slots and the Preprocessor's buffers with it.
    readonly Channel<(int Prompt, GenerateStreamResponse Event)> _events =
        Channel.CreateUnbounded<(int, GenerateStreamResponse)>(new UnboundedChannelOptions { SingleReader = true });
    // True once every call was accepted (the response may be committed), false when one failed before that (it must be a
    // plain error): whichever comes first decides.
    readonly TaskCompletionSource<bool> _accepted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    ApiException? _failure;
    int _running;
    int _unaccepted;
    // Tokens each prompt's generation sent so far: what a generation that ends early had done.
    readonly long[] _tokensSent = new long[request.Prompt.Count];

    /// <summary>Streams every prompt's generation as events, or the error as an event once the stream started.</summary>
    /// <param name="admission">Completed and released once every prompt's generation has arrived whole, however much of it
    /// the client has still to read; when the generation ends early (client gone, a failure), told the work it had done.</param>
    /// <param name="deliveryLimit">How long the whole response may take; past it the connection is aborted, so a client that
    /// stops reading cannot keep it open.</param>
    public async Task WriteAsync(HttpResponse response, AdmissionQueue.Admission admission, TimeSpan deliveryLimit, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(deliveryLimit);
        using var abortAtDeadline = deadline.Token.Register(response.HttpContext.Abort);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _running = _unaccepted = request.Prompt.Count;
        void Generated()
        {
            admission.Completed();
            admission.Dispose();
        }
        var pumps = Enumerable.Range(0, request.Prompt.Count).Select(p => PumpAsync(p, Generated, stop.Token)).ToArray();
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
                return;
            }
            if (request.IncludeUsage)
                await WriteChunkAsync(sse, [], new CompletionUsage(promptTokens, completionTokens, promptTokens + completionTokens), cancellationToken);
            await sse.WriteAsync(Done, cancellationToken: cancellationToken);
        }
        finally
        {
            // Leaving early (client gone, one prompt failed) must end every call still generating.
            await stop.CancelAsync();
            await Task.WhenAll(pumps);
            if (Volatile.Read(ref _running) != 0)
                admission.PartlyCompleted(RequestWork.Delivered(request.Prompt, request.N, _tokensSent));
        }
    }

    async Task PumpAsync(int prompt, Action generated, CancellationToken cancellationToken)
    {
        var accepted = false;
        try
        {
            await foreach (var message in preprocessor.GenerateStreamAsync(request.ToGenerateRequest(prompt, id), request.UpstreamFieldNamesFor(prompt), cancellationToken))
            {
                if (!accepted)
                {
                    accepted = true;
                    Accept();
                }
                if (message.Delta is { } delta)
                    Interlocked.Add(ref _tokensSent[prompt], delta.TokenIds.Count);
                await _events.Writer.WriteAsync((prompt, message), cancellationToken);
            }
            if (!accepted)
                Accept();
            // A pump that failed or was cancelled never gets here, so the last one to arrive means all succeeded.
            if (Interlocked.Decrement(ref _running) == 0)
            {
                _events.Writer.TryComplete();
                generated();
            }
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
