using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Grpc.Core;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.TritonClient;

/// <summary>One open ModelStreamInfer call: requests go out as they come, responses are routed back to their request by id.</summary>
/// <remarks>
/// KServe streams carry no per-request cancellation: abandoning one request stops its
/// enumeration here only; disposing the stream then cancels the call, and with it every request
/// on it at the server. When every request reached its final response, disposing ends the call
/// cleanly instead: half-close, then the server's status is read (OK on both sides).
/// </remarks>
public sealed class TritonInferenceStream : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<ModelInferRequest, ModelStreamInferResponse> _call;
    /// <summary>The detail of a request whose stream ended normally before its final response.</summary>
    public const string EndedEarlyMessage = "The backend ended the stream before the request's final response.";

    /// <summary>The failure of a request whose call ended normally before its final response: the backend is reachable, so
    /// this is a fault of the request (INTERNAL), not a lost backend (only the readiness probe and a failed connection say that).</summary>
    internal static TritonException EndedEarly(string? model) =>
        new("ModelStreamInfer", model, new Status(StatusCode.Internal, EndedEarlyMessage));

    /// <summary>How long a half-closed call whose requests all have their final responses waits for the server's status
    /// before it is cancelled. A conforming server sends it at once; one that never does would otherwise hold the call,
    /// and with it one of the connection's HTTP/2 streams, for as long as its deadline allows (for ever without one).</summary>
    internal static readonly TimeSpan StatusWait = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, Channel<ModelInferResponse>> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Task _reader;
    private Exception? _failure;
    private volatile bool _abandoned;

    internal TritonInferenceStream(AsyncDuplexStreamingCall<ModelInferRequest, ModelStreamInferResponse> call)
    {
        _call = call;
        _reader = Task.Run(ReadResponsesAsync);
    }

    /// <summary>Sends a request and yields its responses until the final one (an empty final response, which only closes the request, is not yielded). A request without an id gets a fresh one.</summary>
    /// <exception cref="TritonException">The server reported an error for this request or the stream failed.</exception>
    public async IAsyncEnumerable<ModelInferResponse> InferAsync(ModelInferRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Prepare(request);
        var responses = Channel.CreateUnbounded<ModelInferResponse>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        if (!_pending.TryAdd(request.Id, responses))
        {
            throw new ArgumentException($"Request id '{request.Id}' is already in flight on this stream.", nameof(request));
        }
        using var activity = TritonTelemetry.Start("ModelStreamInfer", request.ModelName, request.Id);
        var count = 0;
        var final = false;
        try
        {
            if (_failure is not null)
            {
                throw _failure;
            }
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _call.RequestStream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException error) when (error is not TritonException)
            {
                throw new TritonException("ModelStreamInfer", request.ModelName, error.Status, error.Trailers);
            }
            finally
            {
                _writeLock.Release();
            }
            await foreach (var response in responses.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                // ReadAllAsync hands out buffered responses without looking at the token again.
                cancellationToken.ThrowIfCancellationRequested();
                count++;
                final = IsLast(response);
                // An empty final response only closes the request; there is nothing to hand out.
                if (!(final && response.Outputs.Count == 0))
                {
                    yield return response;
                }
                if (final)
                {
                    yield break;
                }
            }
        }
        finally
        {
            // Ended before its final response and without an error from the server: the server is still working on it.
            _abandoned |= !final && !responses.Reader.Completion.IsCompleted;
            _pending.TryRemove(request.Id, out _);
            activity?.SetTag("triton.response_count", count);
        }
    }

    /// <summary>
    /// Ends the call: cleanly when every request is answered (half-close; the server then ends the call and its
    /// status is read in the background, off the caller's path), otherwise by cancelling it.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (!_abandoned && _failure is null)
        {
            try
            {
                await _call.RequestStream.CompleteAsync().ConfigureAwait(false);
                // Every answer is in: waiting for the trailers would add a round trip to the caller's latency. The reader
                // reads them, for at most StatusWait, then the call is released.
                _ = ReleaseOnceReadAsync();
                return;
            }
            catch (Exception error) when (error is RpcException or InvalidOperationException or OperationCanceledException)
            {
                // The call already ended (failure, cancellation); nothing is left to half-close.
            }
        }
        _call.Dispose();
        await _reader.ConfigureAwait(false);
        Release();
    }

    private async Task ReleaseOnceReadAsync()
    {
        try
        {
            await _reader.WaitAsync(StatusWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The reader still waits for the status: disposing the call below cancels it.
        }
        Release();
    }

    private void Release()
    {
        _call.Dispose();
        _writeLock.Dispose();
    }

    /// <summary>Gives a request without an id a fresh one, and asks for the final response even when it carries no data.</summary>
    internal static void Prepare(ModelInferRequest request)
    {
        if (string.IsNullOrEmpty(request.Id))
        {
            request.Id = Guid.NewGuid().ToString("N");
        }
        // Triton only sends a response for a final flag that arrives without data when asked to.
        request.Parameters.TryAdd(GenerationContract.EnableEmptyFinalResponseParameter, new InferParameter { BoolParam = true });
    }

    // Triton marks the end of a decoupled request with triton_final_response; a response without
    // that parameter comes from a non-decoupled model, which answers each request exactly once.
    internal static bool IsLast(ModelInferResponse response) =>
        !response.Parameters.ContainsKey(GenerationContract.FinalResponseParameter) || response.IsFinalResponse();

    private async Task ReadResponsesAsync()
    {
        try
        {
            while (await _call.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false))
            {
                Route(_call.ResponseStream.Current);
            }
            if (!_pending.IsEmpty)
            {
                Fail(EndedEarly(null));
            }
        }
        catch (RpcException error)
        {
            Fail(error as TritonException ?? new TritonException("ModelStreamInfer", null, error.Status, error.Trailers));
        }
        catch (Exception error) when (error is OperationCanceledException or ObjectDisposedException)
        {
            Fail(new TritonException("ModelStreamInfer", null, new Status(StatusCode.Cancelled, "The stream was cancelled.")));
        }
    }

    private void Route(ModelStreamInferResponse message)
    {
        var response = message.InferResponse ?? new ModelInferResponse();
        if (string.IsNullOrEmpty(message.ErrorMessage))
        {
            if (_pending.TryGetValue(response.Id, out var responses))
            {
                responses.Writer.TryWrite(response);
            }
            return;
        }
        // Triton reports a failed request in-band and keeps the stream open for the others.
        var error = new TritonException("ModelStreamInfer", response.ModelName is "" ? null : response.ModelName, StatusNames.ParseStreamError(message.ErrorMessage));
        if (_pending.TryGetValue(response.Id, out var failed))
        {
            failed.Writer.TryComplete(error);
        }
        else if (string.IsNullOrEmpty(response.Id))
        {
            // Without an id the error cannot be attributed, so every waiting request learns of it.
            foreach (var pending in _pending.Values)
            {
                pending.Writer.TryComplete(error);
            }
        }
    }

    private void Fail(Exception error)
    {
        _failure = error;
        foreach (var pending in _pending.Values)
        {
            pending.Writer.TryComplete(error);
        }
    }
}
