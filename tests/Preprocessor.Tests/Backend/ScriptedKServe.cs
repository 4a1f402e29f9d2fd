using System.Collections.Concurrent;
using Grpc.Core;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.Preprocessor.Tests.Backend;

/// <summary>How the scripted backend answers one streamed request.</summary>
public enum StreamAnswer
{
    /// <summary>One response with an output, then an empty final response (Triton with triton_enable_empty_final_response).</summary>
    Complete,
    /// <summary>Triton's in-band refusal for a full scheduler queue; the stream stays open.</summary>
    QueueFull,
    /// <summary>The same refusal as the call's status, with the code Triton gives it (UNAVAILABLE).</summary>
    QueueFullStatus,
    /// <summary>One non-final response, then the call ends with OK: no final response ever comes.</summary>
    EndEarly,
    /// <summary>An in-band refusal of the request's tensors, "INVALID_ARGUMENT: Input 'input_ids' ..." as CpuBackend words it.</summary>
    InvalidArgument,
    /// <summary>The same refusal as the call's status (INVALID_ARGUMENT).</summary>
    InvalidArgumentStatus,
    /// <summary>The call fails with RESOURCE_EXHAUSTED (CpuBackend's full queue).</summary>
    ResourceExhaustedStatus,
    /// <summary>The call fails with UNAVAILABLE (a backend shutting down).</summary>
    UnavailableStatus,
    /// <summary>A response whose output_ids has two dimensions instead of [batch, samples, length].</summary>
    MalformedShape,
    /// <summary>A response with sequence_length but no output_ids.</summary>
    MissingOutputIds,
    /// <summary>A final response naming another request than the one the call carried, then nothing until the client cancels.</summary>
    ForeignId,
    /// <summary>As <see cref="Complete"/>, then the call never ends: no status, whether or not the client half-closed, until
    /// the client cancels it.</summary>
    CompleteThenHang,
    /// <summary>Generates <see cref="ScriptedKServe.Generated"/> up to <c>request_output_len</c> tokens, one response per token when
    /// the request streams, one response with all of them otherwise, then holds the final response back until the call is
    /// cancelled: a client that waits for it never finishes.</summary>
    GenerateThenHang,
}

/// <summary>
/// A KServe server in this process on the real gRPC stack (Kestrel, HTTP/2 on a free loopback port) that answers like
/// Triton with a decoupled model: always ready, metadata with the generation contract's inputs, and streamed requests
/// answered as the test scripts them, in order (unscripted requests complete).
/// </summary>
internal sealed class ScriptedKServe : GRPCInferenceService.GRPCInferenceServiceBase, IAsyncDisposable
{
    public const string ModelName = GenerationContract.DefaultModelName;

    private readonly ConcurrentQueue<StreamAnswer> _script = new();
    private WebApplication? _app;

    /// <summary>Parameters of the model configuration ModelConfig reports (the limits a backend states).</summary>
    public Dictionary<string, string> ConfigParameters { get; } = [];

    /// <summary>The tokens <see cref="StreamAnswer.GenerateThenHang"/> generates, repeated to the requested length.</summary>
    public int[] Generated { get; set; } = [7];

    /// <summary>Every streamed request received, in order.</summary>
    public ConcurrentQueue<ModelInferRequest> Received { get; } = new();

    /// <summary>Token responses written for <see cref="StreamAnswer.GenerateThenHang"/> requests, in total.</summary>
    public int TokenResponsesWritten => _tokenResponses;

    /// <summary>Completes when a <see cref="StreamAnswer.GenerateThenHang"/> call was cancelled by its client.</summary>
    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _tokenResponses;

    public string Address { get; private set; } = "";

    /// <summary>Answers to the next streamed requests, in order.</summary>
    public void Script(params StreamAnswer[] answers)
    {
        foreach (var answer in answers)
            _script.Enqueue(answer);
    }

    public static async Task<ScriptedKServe> StartAsync()
    {
        var server = new ScriptedKServe();
        var builder = WebApplication.CreateSlimBuilder();
        // The Preprocessor's appsettings.json sits in the test output with its own Kestrel endpoints: none of it applies here.
        builder.Configuration.Sources.Clear();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(server);
        server._app = builder.Build();
        server._app.MapGrpcService<ScriptedKServe>();
        await server._app.StartAsync();
        server.Address = server._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return server;
    }

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ModelReadyResponse { Ready = request.Name == ModelName });

    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context)
    {
        var metadata = new ModelMetadataResponse { Name = ModelName, Platform = "tensorrt_llm" };
        foreach (var input in GenerationContract.Inputs)
            metadata.Inputs.Add(new ModelMetadataResponse.Types.TensorMetadata { Name = input.Name, Datatype = input.Datatype, Shape = { input.Shape } });
        return Task.FromResult(metadata);
    }

    public override Task<ModelConfigResponse> ModelConfig(ModelConfigRequest request, ServerCallContext context)
    {
        var config = new ModelConfig { Name = ModelName, MaxBatchSize = 8 };
        foreach (var (name, value) in ConfigParameters)
            config.Parameters[name] = new ModelParameter { StringValue = value };
        return Task.FromResult(new ModelConfigResponse { Config = config });
    }

    public override async Task ModelStreamInfer(IAsyncStreamReader<ModelInferRequest> requestStream, IServerStreamWriter<ModelStreamInferResponse> responseStream, ServerCallContext context)
    {
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            var request = requestStream.Current;
            Received.Enqueue(request);
            var answer = _script.TryDequeue(out var scripted) ? scripted : StreamAnswer.Complete;
            switch (answer)
            {
                case StreamAnswer.QueueFull:
                    // Triton's own wording, request id included, with the response naming the request.
                    await responseStream.WriteAsync(new ModelStreamInferResponse
                    {
                        ErrorMessage = QueueFullText(request.Id),
                        InferResponse = new ModelInferResponse { Id = request.Id, ModelName = ModelName },
                    });
                    break;
                case StreamAnswer.QueueFullStatus:
                    throw new RpcException(new Status(StatusCode.Unavailable, QueueFullText(request.Id)));
                case StreamAnswer.InvalidArgument:
                    await responseStream.WriteAsync(new ModelStreamInferResponse
                    {
                        ErrorMessage = $"INVALID_ARGUMENT: {InvalidInputText}",
                        InferResponse = new ModelInferResponse { Id = request.Id, ModelName = ModelName },
                    });
                    break;
                case StreamAnswer.InvalidArgumentStatus:
                    throw new RpcException(new Status(StatusCode.InvalidArgument, InvalidInputText));
                case StreamAnswer.ResourceExhaustedStatus:
                    throw new RpcException(new Status(StatusCode.ResourceExhausted, "Request queue is full (64 requests waiting)."));
                case StreamAnswer.UnavailableStatus:
                    throw new RpcException(new Status(StatusCode.Unavailable, "The server is shutting down."));
                case StreamAnswer.MalformedShape:
                case StreamAnswer.MissingOutputIds:
                    await responseStream.WriteAsync(new ModelStreamInferResponse { InferResponse = Malformed(request.Id, answer) });
                    await responseStream.WriteAsync(new ModelStreamInferResponse { InferResponse = Response(request.Id, final: true, withOutput: false) });
                    break;
                case StreamAnswer.EndEarly:
                    await responseStream.WriteAsync(new ModelStreamInferResponse { InferResponse = Response(request.Id, final: false, withOutput: true) });
                    return;
                case StreamAnswer.ForeignId:
                    await responseStream.WriteAsync(new ModelStreamInferResponse { InferResponse = Response("not-" + request.Id, final: true, withOutput: true) });
                    await HangUntilCancelledAsync(context.CancellationToken);
                    return;
                case StreamAnswer.CompleteThenHang:
                    await responseStream.WriteAsync(new ModelStreamInferResponse { InferResponse = Response(request.Id, final: false, withOutput: true) });
                    await responseStream.WriteAsync(new ModelStreamInferResponse { InferResponse = Response(request.Id, final: true, withOutput: false) });
                    await HangUntilCancelledAsync(context.CancellationToken);
                    return;
                case StreamAnswer.GenerateThenHang:
                    await GenerateThenHangAsync(request, responseStream, context.CancellationToken);
                    return;
                default:
                    await responseStream.WriteAsync(new ModelStreamInferResponse { InferResponse = Response(request.Id, final: false, withOutput: true) });
                    await responseStream.WriteAsync(new ModelStreamInferResponse { InferResponse = Response(request.Id, final: true, withOutput: false) });
                    break;
            }
        }
    }

    private async Task GenerateThenHangAsync(ModelInferRequest request, IServerStreamWriter<ModelStreamInferResponse> responses, CancellationToken cancellation)
    {
        var length = request.GetInput<int>(GenerationContract.RequestOutputLen).Data[0];
        var tokens = Enumerable.Range(0, length).Select(i => Generated[i % Generated.Length]).ToArray();
        var streaming = request.FindInput<bool>(GenerationContract.Streaming)?.Data[0] ?? false;
        try
        {
            foreach (var chunk in streaming ? tokens.Chunk(1) : [tokens])
            {
                var response = new ModelInferResponse { Id = request.Id, ModelName = ModelName }
                    .AddOutput<int>(GenerationContract.OutputIds, [1, 1, chunk.Length], chunk);
                response.Parameters[GenerationContract.FinalResponseParameter] = new InferParameter { BoolParam = false };
                await responses.WriteAsync(new ModelStreamInferResponse { InferResponse = response }, cancellation);
                Interlocked.Increment(ref _tokenResponses);
            }
            await Task.Delay(Timeout.Infinite, cancellation);
        }
        catch (Exception e) when (e is OperationCanceledException || cancellation.IsCancellationRequested)
        {
            Cancelled.TrySetResult();
        }
    }

    private async Task HangUntilCancelledAsync(CancellationToken cancellation)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellation);
        }
        catch (OperationCanceledException)
        {
            Cancelled.TrySetResult();
        }
    }

    // Written out rather than built from StatusNames.TritonQueueFullText: the test checks that constant against Triton's wording.
    private static string QueueFullText(string requestId) => $"[request id: {requestId}] Exceeds maximum queue size";

    /// <summary>What a backend says about a tensor of a request the Preprocessor built: names that mean nothing to its callers.</summary>
    public const string InvalidInputText = "Input 'input_ids' has shape [1,0]; model 'gptj' expects [-1,-1] (batch first).";

    private static ModelInferResponse Malformed(string id, StreamAnswer answer)
    {
        var response = new ModelInferResponse { Id = id, ModelName = ModelName };
        response.Parameters[GenerationContract.FinalResponseParameter] = new InferParameter { BoolParam = false };
        var (name, shape) = answer == StreamAnswer.MalformedShape
            ? (GenerationContract.OutputIds, new long[] { 1, 1 })
            : (GenerationContract.SequenceLength, new long[] { 1, 1 });
        response.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = name, Datatype = "INT32", Shape = { shape } });
        response.RawOutputContents.Add(Google.Protobuf.ByteString.CopyFrom(BitConverter.GetBytes(7)));
        return response;
    }

    private static ModelInferResponse Response(string id, bool final, bool withOutput)
    {
        var response = new ModelInferResponse { Id = id, ModelName = ModelName };
        response.Parameters[GenerationContract.FinalResponseParameter] = new InferParameter { BoolParam = final };
        if (withOutput)
        {
            response.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = GenerationContract.OutputIds, Datatype = "INT32", Shape = { 1, 1, 1 } });
            response.RawOutputContents.Add(Google.Protobuf.ByteString.CopyFrom(BitConverter.GetBytes(7)));
        }
        return response;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
