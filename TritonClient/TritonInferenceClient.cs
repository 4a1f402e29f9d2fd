using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.TritonClient;

/// <summary>A client for any KServe v2 gRPC server (NVIDIA Triton, CpuBackend): health, metadata, configuration, and unary or streaming inference.</summary>
/// <remarks>
/// Every call takes an optional absolute UTC deadline (sent as <c>grpc-timeout</c>) and a
/// cancellation token (which resets the HTTP/2 stream, so the server stops the work).
/// Failures throw <see cref="TritonException"/> carrying the gRPC status.
/// </remarks>
public sealed class TritonInferenceClient : IDisposable
{
    /// <summary>Largest KServe message either side accepts (gRPC's default is 4 MiB; a batch of long prompts or outputs can exceed it).</summary>
    public const int MaxMessageBytes = 64 * 1024 * 1024;

    private readonly GRPCInferenceService.GRPCInferenceServiceClient _client;
    private readonly GrpcChannel? _ownedChannel;

    /// <summary>A client over a generated KServe client (as <c>AddGrpcClient</c> registers it), whose channel the caller owns.</summary>
    public TritonInferenceClient(GRPCInferenceService.GRPCInferenceServiceClient client)
    {
        _client = client;
    }

    private TritonInferenceClient(GrpcChannel channel)
        : this(new GRPCInferenceService.GRPCInferenceServiceClient(channel))
    {
        _ownedChannel = channel;
    }

    /// <summary>A client with its own channel to <paramref name="address"/> (e.g. "http://127.0.0.1:8001").</summary>
    public static TritonInferenceClient ForAddress(string address, GrpcChannelOptions? options = null) =>
        new(GrpcChannel.ForAddress(address, options ?? new GrpcChannelOptions { MaxReceiveMessageSize = MaxMessageBytes }));

    public async Task<bool> IsServerLiveAsync(DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync("ServerLive", null, null, o => _client.ServerLiveAsync(new ServerLiveRequest(), o), deadline, cancellationToken).ConfigureAwait(false)).Live;

    public async Task<bool> IsServerReadyAsync(DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync("ServerReady", null, null, o => _client.ServerReadyAsync(new ServerReadyRequest(), o), deadline, cancellationToken).ConfigureAwait(false)).Ready;

    /// <summary>Whether the model can take requests; an empty version lets the server choose.</summary>
    public async Task<bool> IsModelReadyAsync(string model, string version = "", DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync("ModelReady", model, null, o => _client.ModelReadyAsync(new ModelReadyRequest { Name = model, Version = version }, o), deadline, cancellationToken).ConfigureAwait(false)).Ready;

    public Task<ServerMetadataResponse> GetServerMetadataAsync(DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        UnaryAsync("ServerMetadata", null, null, o => _client.ServerMetadataAsync(new ServerMetadataRequest(), o), deadline, cancellationToken);

    /// <summary>The model's inputs and outputs with KServe datatypes and full shapes (batch dimension included).</summary>
    public Task<ModelMetadataResponse> GetModelMetadataAsync(string model, string version = "", DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        UnaryAsync("ModelMetadata", model, null, o => _client.ModelMetadataAsync(new ModelMetadataRequest { Name = model, Version = version }, o), deadline, cancellationToken);

    /// <summary>The model's configuration (max_batch_size, inputs, outputs, decoupled transaction policy, ...).</summary>
    public async Task<ModelConfig> GetModelConfigAsync(string model, string version = "", DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync("ModelConfig", model, null, o => _client.ModelConfigAsync(new ModelConfigRequest { Name = model, Version = version }, o), deadline, cancellationToken).ConfigureAwait(false)).Config;

    /// <summary>The models the server knows, with their state; <paramref name="readyOnly"/> lists only ready ones.</summary>
    public Task<RepositoryIndexResponse> GetRepositoryIndexAsync(bool readyOnly = false, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        UnaryAsync("RepositoryIndex", null, null, o => _client.RepositoryIndexAsync(new RepositoryIndexRequest { Ready = readyOnly }, o), deadline, cancellationToken);

    /// <summary>One request, one response (ModelInfer). Build the request with <see cref="ModelInferRequestExtensions.AddInput{T}"/>.</summary>
    public Task<ModelInferResponse> InferAsync(ModelInferRequest request, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        UnaryAsync("ModelInfer", request.ModelName, request.Id, o => _client.ModelInferAsync(request, o), deadline, cancellationToken);

    /// <summary>
    /// Sends one request on its own ModelStreamInfer call and yields its responses until the final one
    /// (for a decoupled model, the one marked <c>triton_final_response</c>).
    /// </summary>
    /// <remarks>
    /// The call is half-closed as soon as the request is sent, so the server ends it right after the final response;
    /// its status is then read off the caller's path, and the call ends cleanly (OK on both sides). Stopping the
    /// enumeration early, cancelling or passing the deadline cancels the call instead, which is how KServe cancels work
    /// on a stream: the server sees the stream reset and drops the request. An error the server reports for the request
    /// (<c>error_message</c>) throws <see cref="TritonException"/>.
    /// The responses are read on the caller's own awaits: no reader task or queue between the call and the caller
    /// (<see cref="OpenStream"/> has them, to route responses of many requests).
    /// </remarks>
    public async IAsyncEnumerable<ModelInferResponse> StreamInferAsync(ModelInferRequest request, DateTime? deadline = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        TritonInferenceStream.Prepare(request);
        using var activity = TritonTelemetry.Start("ModelStreamInfer", request.ModelName, request.Id);
        var call = _client.ModelStreamInfer(deadline: deadline, cancellationToken: cancellationToken);
        var count = 0;
        var final = false;
        try
        {
            await SendOnlyAsync(call, request, cancellationToken).ConfigureAwait(false);
            while (!final)
            {
                var response = await NextResponseAsync(call, request, cancellationToken).ConfigureAwait(false);
                count++;
                final = TritonInferenceStream.IsLast(response);
                // An empty final response only closes the request; there is nothing to hand out.
                if (!(final && response.Outputs.Count == 0))
                {
                    yield return response;
                }
            }
        }
        finally
        {
            activity?.SetTag("triton.response_count", count);
            if (final)
            {
                _ = ReadStatusAndReleaseAsync(call);
            }
            else
            {
                call.Dispose();
            }
        }
    }

    private static async Task SendOnlyAsync(AsyncDuplexStreamingCall<ModelInferRequest, ModelStreamInferResponse> call, ModelInferRequest request, CancellationToken cancellationToken)
    {
        try
        {
            await call.RequestStream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        }
        catch (RpcException error) when (error is not TritonException)
        {
            throw StreamFailure(error, request, cancellationToken);
        }
    }

    // The request's next response. A call carries this request only, so a response naming another one is the server's fault:
    // skipping it would leave the caller waiting on a server that may never answer. A response without an id is taken as
    // this request's, as on a shared stream where an id-less error concerns every request.
    private static async Task<ModelInferResponse> NextResponseAsync(
        AsyncDuplexStreamingCall<ModelInferRequest, ModelStreamInferResponse> call, ModelInferRequest request, CancellationToken cancellationToken)
    {
        bool more;
        try
        {
            more = await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException error) when (error is not TritonException)
        {
            throw StreamFailure(error, request, cancellationToken);
        }
        if (!more)
        {
            throw TritonInferenceStream.EndedEarly(request.ModelName);
        }
        var message = call.ResponseStream.Current;
        var response = message.InferResponse ?? new ModelInferResponse();
        if (!string.IsNullOrEmpty(message.ErrorMessage))
        {
            // Triton reports a failed request in-band; without an id the error is still this stream's only request's.
            throw new TritonException("ModelStreamInfer", request.ModelName, StatusNames.ParseStreamError(message.ErrorMessage));
        }
        if (response.Id.Length > 0 && response.Id != request.Id)
        {
            throw new TritonException("ModelStreamInfer", request.ModelName, new Status(StatusCode.Internal,
                $"The backend answered a request '{response.Id}' on the call of request '{request.Id}', which carried no other."));
        }
        return response;
    }

    // Cancelled by the caller is the caller's own cancellation, as it is for every other await of the enumeration.
    private static Exception StreamFailure(RpcException error, ModelInferRequest request, CancellationToken cancellationToken) =>
        error.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested
            ? new OperationCanceledException(cancellationToken)
            : new TritonException("ModelStreamInfer", request.ModelName, error.Status, error.Trailers);

    // Every answer is in: waiting for the trailers would add a round trip to the caller's latency, so they are read here,
    // for at most StatusWait, then the call is released.
    private static async Task ReadStatusAndReleaseAsync(AsyncDuplexStreamingCall<ModelInferRequest, ModelStreamInferResponse> call)
    {
        using var wait = new CancellationTokenSource(TritonInferenceStream.StatusWait);
        try
        {
            while (await call.ResponseStream.MoveNext(wait.Token).ConfigureAwait(false))
            {
            }
        }
        catch (Exception error) when (error is RpcException or OperationCanceledException)
        {
            // The status of a request that already has its final response changes nothing for it.
        }
        finally
        {
            call.Dispose();
        }
    }

    /// <summary>Opens a ModelStreamInfer call on which many requests can be in flight at once, their responses matched by request id.</summary>
    public TritonInferenceStream OpenStream(DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        new(_client.ModelStreamInfer(deadline: deadline, cancellationToken: cancellationToken));

    public void Dispose() => _ownedChannel?.Dispose();

    private static async Task<TResponse> UnaryAsync<TResponse>(
        string method, string? model, string? requestId, Func<CallOptions, AsyncUnaryCall<TResponse>> call, DateTime? deadline, CancellationToken cancellationToken)
    {
        using var activity = TritonTelemetry.Start(method, model, requestId);
        try
        {
            using var pending = call(new CallOptions(deadline: deadline, cancellationToken: cancellationToken));
            return await pending.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException error) when (error is not TritonException)
        {
            TritonTelemetry.Fail(activity, error);
            throw new TritonException(method, model, error.Status, error.Trailers);
        }
    }
}
