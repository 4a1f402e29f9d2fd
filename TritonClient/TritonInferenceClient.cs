using System.Runtime.CompilerServices;
using Google.Protobuf;
using GptjAspire.GrpcTransport;
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
    private readonly GrpcChannel _channel;
    private readonly bool _ownsChannel;

    /// <summary>A client over an existing channel, which the caller keeps and disposes.</summary>
    public TritonInferenceClient(GrpcChannel channel)
        : this(channel, ownsChannel: false)
    {
    }

    private TritonInferenceClient(GrpcChannel channel, bool ownsChannel)
    {
        _channel = channel;
        _ownsChannel = ownsChannel;
    }

    /// <summary>A client with its own channel to <paramref name="address"/> (e.g. "http://127.0.0.1:8001").</summary>
    public static TritonInferenceClient ForAddress(string address, GrpcChannelOptions? options = null) =>
        new(GrpcChannel.ForAddress(address, options), ownsChannel: true);

    /// <summary>The channel the calls go through.</summary>
    public GrpcChannel Channel => _channel;

    public async Task<bool> IsServerLiveAsync(DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync(InferenceServiceMethods.ServerLive, new ServerLiveRequest(), null, deadline, cancellationToken).ConfigureAwait(false)).Live;

    public async Task<bool> IsServerReadyAsync(DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync(InferenceServiceMethods.ServerReady, new ServerReadyRequest(), null, deadline, cancellationToken).ConfigureAwait(false)).Ready;

    /// <summary>Whether the model can take requests; an empty version lets the server choose.</summary>
    public async Task<bool> IsModelReadyAsync(string model, string version = "", DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync(InferenceServiceMethods.ModelReady, new ModelReadyRequest { Name = model, Version = version }, model, deadline, cancellationToken).ConfigureAwait(false)).Ready;

    public Task<ServerMetadataResponse> GetServerMetadataAsync(DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(InferenceServiceMethods.ServerMetadata, new ServerMetadataRequest(), null, deadline, cancellationToken);

    /// <summary>The model's inputs and outputs with KServe datatypes and full shapes (batch dimension included).</summary>
    public Task<ModelMetadataResponse> GetModelMetadataAsync(string model, string version = "", DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(InferenceServiceMethods.ModelMetadata, new ModelMetadataRequest { Name = model, Version = version }, model, deadline, cancellationToken);

    /// <summary>The model's configuration (max_batch_size, inputs, outputs, decoupled transaction policy, ...).</summary>
    public async Task<ModelConfig> GetModelConfigAsync(string model, string version = "", DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync(InferenceServiceMethods.ModelConfig, new ModelConfigRequest { Name = model, Version = version }, model, deadline, cancellationToken).ConfigureAwait(false)).Config;

    /// <summary>The models the server knows, with their state; <paramref name="readyOnly"/> lists only ready ones.</summary>
    public Task<RepositoryIndexResponse> GetRepositoryIndexAsync(bool readyOnly = false, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(InferenceServiceMethods.RepositoryIndex, new RepositoryIndexRequest { Ready = readyOnly }, null, deadline, cancellationToken);

    /// <summary>One request, one response (ModelInfer). Build the request with <see cref="ModelInferRequestExtensions.AddInput{T}"/>.</summary>
    public Task<ModelInferResponse> InferAsync(ModelInferRequest request, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(InferenceServiceMethods.ModelInfer, request, request.ModelName, deadline, cancellationToken, request.Id);

    /// <summary>
    /// Sends one request on its own ModelStreamInfer call and yields its responses until the final one
    /// (for a decoupled model, the one marked <c>triton_final_response</c>).
    /// </summary>
    /// <remarks>
    /// Stopping the enumeration early, cancelling or passing the deadline ends the call, which is how
    /// KServe cancels work on a stream: the server sees the stream reset and drops the request.
    /// An error the server reports for the request (<c>error_message</c>) throws <see cref="TritonException"/>.
    /// </remarks>
    public async IAsyncEnumerable<ModelInferResponse> StreamInferAsync(ModelInferRequest request, DateTime? deadline = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var stream = OpenStream(deadline, cancellationToken);
        await foreach (var response in stream.InferAsync(request, cancellationToken).ConfigureAwait(false))
        {
            yield return response;
        }
    }

    /// <summary>Opens a ModelStreamInfer call on which many requests can be in flight at once, their responses matched by request id.</summary>
    public TritonInferenceStream OpenStream(DateTime? deadline = null, CancellationToken cancellationToken = default)
    {
        var call = _channel.AsyncDuplexStreamingCall(InferenceServiceMethods.ModelStreamInfer, new CallOptions(Deadline: deadline, CancellationToken: cancellationToken));
        return new TritonInferenceStream(call);
    }

    public void Dispose()
    {
        if (_ownsChannel)
        {
            _channel.Dispose();
        }
    }

    private async Task<TResponse> UnaryAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, string? model, DateTime? deadline, CancellationToken cancellationToken, string? requestId = null)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        using var activity = TritonTelemetry.Start(method.Name, model, requestId);
        try
        {
            using var call = _channel.AsyncUnaryCall(method, request, new CallOptions(Deadline: deadline, CancellationToken: cancellationToken));
            return await call.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException error) when (error is not TritonException)
        {
            TritonTelemetry.Fail(activity, error);
            throw new TritonException(method.Name, model, error.Status, error.Trailers);
        }
    }
}
