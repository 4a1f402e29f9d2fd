using System.Diagnostics;
using System.Reflection;
using GptjAspire.CpuBackend.Generation;
using GptjAspire.ServiceDefaults;
using Grpc.Core;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>The KServe v2 <c>inference.GRPCInferenceService</c> over the GPT-J CPU engine, answering as Triton with the TensorRT-LLM backend does.</summary>
[BindServiceMethod(typeof(InferenceService), nameof(BindService))]
public sealed partial class InferenceService(ModelHost host, ILogger<InferenceService> logger) : GRPCInferenceService.GRPCInferenceServiceBase
{
    /// <summary>The generated binding, with request messages that do not parse answered INVALID_ARGUMENT (<see cref="MalformedRequestGuard"/>).</summary>
    /// <remarks>Typed as the generated base: Grpc.AspNetCore binds the methods that override that type's.</remarks>
    public static void BindService(ServiceBinderBase binder, GRPCInferenceService.GRPCInferenceServiceBase service) =>
        GRPCInferenceService.BindService(new MalformedRequestGuard(binder, ServingErrors.InvalidArgument), service);

    /// <summary>The service's descriptor, where server reflection looks for it: on the type <see cref="BindServiceMethodAttribute"/> names.</summary>
    public static Google.Protobuf.Reflection.ServiceDescriptor Descriptor => GRPCInferenceService.Descriptor;

    internal const string ServerName = "gptj-aspire-cpu-backend";

    internal static readonly string ServerVersion =
        typeof(InferenceService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    internal static readonly string[] ServerExtensions = ["model_configuration", "model_repository", "statistics"];

    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = IsServerReady });

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ModelReadyResponse { Ready = IsModelReady(request.Name, request.Version) });

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerMetadataResponse { Name = ServerName, Version = ServerVersion, Extensions = { ServerExtensions } });

    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(Metadata(request.Name, request.Version));

    public override Task<ModelConfigResponse> ModelConfig(ModelConfigRequest request, ServerCallContext context) =>
        Task.FromResult(new ModelConfigResponse { Config = Config(request.Name, request.Version) });

    internal bool IsServerReady => host.Loaded is not null;

    internal bool IsModelReady(string name, string version) => IsServed(name, version) && IsServerReady;

    internal ModelMetadataResponse Metadata(string name, string version)
    {
        RequireModel(name, version);
        return ModelDescription.Metadata(host.ModelName);
    }

    internal ModelConfig Config(string name, string version)
    {
        var loaded = RequireModel(name, version);
        return ModelDescription.Config(host.ModelName, host.MaxBatchSize, host.MaxQueuedRequests, loaded.Config.ContextLength, host.MaxSequences,
            loaded.Scheduler.KvCacheCapacityPositions);
    }

    public override Task<RepositoryIndexResponse> RepositoryIndex(RepositoryIndexRequest request, ServerCallContext context) =>
        Task.FromResult(Index(request.Ready));

    // The model is loaded once, at start, from Model:Path, as Triton does with model control off (its default), and
    // answered the same way: UNAVAILABLE with Triton's message, which its clients recognise.
    internal static RpcException ModelControlRefused() =>
        ServingErrors.Unavailable("explicit model load / unload is not allowed: this server loads its one model at start");

    public override Task<RepositoryModelLoadResponse> RepositoryModelLoad(RepositoryModelLoadRequest request, ServerCallContext context) =>
        Task.FromException<RepositoryModelLoadResponse>(ModelControlRefused());

    public override Task<RepositoryModelUnloadResponse> RepositoryModelUnload(RepositoryModelUnloadRequest request, ServerCallContext context) =>
        Task.FromException<RepositoryModelUnloadResponse>(ModelControlRefused());

    public override Task<ModelStatisticsResponse> ModelStatistics(ModelStatisticsRequest request, ServerCallContext context) =>
        Task.FromResult(Statistics(request.Name, request.Version));

    /// <summary>Triton's statistics of the served model (an empty name: every model, here the one); an unknown name or
    /// version is NOT_FOUND, a model not loaded UNAVAILABLE.</summary>
    internal ModelStatisticsResponse Statistics(string name, string version)
    {
        var loaded = RequireModel(name.Length == 0 ? host.ModelName : name, version);
        return new ModelStatisticsResponse { ModelStats = { loaded.Scheduler.Statistics.Snapshot(host.ModelName, ModelDescription.Version) } };
    }

    /// <summary>The served model's state; with <paramref name="readyOnly"/>, only if it is ready.</summary>
    internal RepositoryIndexResponse Index(bool readyOnly)
    {
        var ready = host.Loaded is not null;
        var index = new RepositoryIndexResponse();
        if (ready || !readyOnly)
        {
            index.Models.Add(new RepositoryIndexResponse.Types.ModelIndex
            {
                Name = host.ModelName,
                Version = ModelDescription.Version,
                State = ready ? "READY" : host.Failure is null ? "LOADING" : "UNAVAILABLE",
                Reason = host.Failure ?? "",
            });
        }
        return index;
    }

    /// <summary>Generates the whole result in one response (a non-decoupled call on a decoupled model, which Triton would refuse; CpuBackend serves it).</summary>
    public override async Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        try
        {
            return await InferWholeAsync(request, context.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception error)
        {
            var status = ServingErrors.ToStatus(error, context.Deadline);
            Log(error, request.Id, "ModelInfer", status);
            throw status.ToRpcException();
        }
    }

    /// <summary>The whole result of a request in one response; throws what <see cref="ServingErrors.ToStatus"/> maps.</summary>
    /// <param name="streamingCall">Where the caller receives tokens as they are generated, named when it asks for them here.</param>
    internal async Task<ModelInferResponse> InferWholeAsync(ModelInferRequest request, CancellationToken cancellation, string streamingCall = "ModelStreamInfer")
    {
        var loaded = RequireModel(request.ModelName, request.ModelVersion);
        ModelInferResponse? whole = null;
        await ServeRecordedAsync(loaded, request, async job =>
        {
            if (job.Streaming)
            {
                throw ServingErrors.InvalidArgument($"Input 'streaming' is true, but this call sends one response; use {streamingCall} to receive tokens as they are generated.");
            }
            whole = await GenerateWholeAsync(job, loaded.Scheduler, cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return whole!;
    }

    /// <summary>Reads one request's inputs and runs it, recording it in the model's statistics: its inputs' time, then
    /// success with its batch size or failure (refused inputs and cancellation included), each with the whole time.</summary>
    private async Task ServeRecordedAsync(LoadedModel loaded, ModelInferRequest request, Func<InferenceJob, Task> run)
    {
        var statistics = loaded.Scheduler.Statistics;
        var started = Stopwatch.GetTimestamp();
        try
        {
            var job = InferenceRequestReader.Read(request, host.ModelName, host.MaxBatchSize, loaded.Config);
            // Every row is checked before any runs or gets its per-sample buffers.
            foreach (var row in job.Rows)
                loaded.Scheduler.ThrowIfInvalid(row);
            statistics.InputRead(Stopwatch.GetElapsedTime(started));
            await run(job).ConfigureAwait(false);
            statistics.Succeeded(Stopwatch.GetElapsedTime(started), job.Rows.Count);
        }
        catch
        {
            statistics.Failed(Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    /// <summary>Serves every request arriving on the stream concurrently; responses are matched by request id, the last of each marked <c>triton_final_response</c>.</summary>
    public override async Task ModelStreamInfer(IAsyncStreamReader<ModelInferRequest> requestStream, IServerStreamWriter<ModelStreamInferResponse> responseStream, ServerCallContext context)
    {
        var cancellation = context.CancellationToken;
        using var writeLock = new SemaphoreSlim(1, 1);
        async Task WriteAsync(ModelStreamInferResponse message)
        {
            await writeLock.WaitAsync(cancellation).ConfigureAwait(false);
            try
            {
                await responseStream.WriteAsync(message, cancellation).ConfigureAwait(false);
            }
            finally
            {
                writeLock.Release();
            }
        }

        var running = new List<Task>();
        while (await requestStream.MoveNext(cancellation).ConfigureAwait(false))
        {
            running.RemoveAll(t => t.IsCompleted);
            running.Add(ServeStreamRequestAsync(requestStream.Current, WriteAsync, context));
        }
        await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task ServeStreamRequestAsync(ModelInferRequest request, Func<ModelStreamInferResponse, Task> write, ServerCallContext context)
    {
        try
        {
            await InferDecoupledAsync(request, response => write(new ModelStreamInferResponse { InferResponse = response }), context.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (context.CancellationToken.IsCancellationRequested)
        {
            // The call is gone (client cancelled, disconnected or its deadline passed): nobody to answer.
        }
        catch (Exception error)
        {
            // Triton reports a failed request in-band and keeps the stream open for the others.
            var status = ServingErrors.ToStatus(error, context.Deadline);
            Log(error, request.Id, "ModelStreamInfer", status);
            await write(new ModelStreamInferResponse
            {
                ErrorMessage = ServingErrors.StreamErrorMessage(status),
                InferResponse = new ModelInferResponse { Id = request.Id, ModelName = request.ModelName, ModelVersion = request.ModelVersion },
            }).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a request as a decoupled model does: one response per generated token when its input 'streaming' is true,
    /// else one whole response; the last is marked <c>triton_final_response</c> (it may have no outputs). Calls to
    /// <paramref name="write"/> do not overlap. Throws what <see cref="ServingErrors.ToStatus"/> maps.</summary>
    internal async Task InferDecoupledAsync(ModelInferRequest request, Func<ModelInferResponse, Task> write, CancellationToken cancellation)
    {
        var loaded = RequireModel(request.ModelName, request.ModelVersion);
        await ServeRecordedAsync(loaded, request, async job =>
        {
            if (job.Streaming)
            {
                await StreamTokensAsync(job, loaded.Scheduler, write, cancellation).ConfigureAwait(false);
            }
            else
            {
                var whole = await GenerateWholeAsync(job, loaded.Scheduler, cancellation).ConfigureAwait(false);
                await write(InferenceResponses.MarkFinal(whole, final: true)).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
    }

    private async Task<ModelInferResponse> GenerateWholeAsync(InferenceJob job, GenerationScheduler scheduler, CancellationToken cancellation)
    {
        var results = job.Rows.Select(r => Enumerable.Range(0, r.NumSequences).Select(_ => new SequenceResult()).ToArray()).ToList();
        await GenerationRun.RunAsync(job, scheduler, (row, step) =>
        {
            foreach (var token in step.Tokens)
            {
                var sequence = results[row][token.Sequence];
                sequence.Finish = token.Finish;
                if (IsEmitted(token))
                {
                    sequence.Tokens.Add(token.TokenId);
                    sequence.LogProbs.Add(token.LogProb);
                }
            }
            return Task.CompletedTask;
        }, stepsAtEnd: true, cancellation).ConfigureAwait(false);
        var writing = Stopwatch.GetTimestamp();
        var whole = InferenceResponses.Whole(job, host.ModelName, results);
        scheduler.Statistics.OutputWritten(Stopwatch.GetElapsedTime(writing));
        return whole;
    }

    private async Task StreamTokensAsync(InferenceJob job, GenerationScheduler scheduler, Func<ModelInferResponse, Task> write, CancellationToken cancellation)
    {
        var unfinished = job.Rows.Sum(r => r.NumSequences);
        var cumulative = job.Rows.Select(r => new float[r.NumSequences]).ToArray();
        // Deciding "final" and writing happen under one lock, so no response of another row can follow the final one.
        using var order = new SemaphoreSlim(1, 1);
        var finalSent = false;
        await GenerationRun.RunAsync(job, scheduler, async (row, step) =>
        {
            await order.WaitAsync(cancellation).ConfigureAwait(false);
            try
            {
                foreach (var token in step.Tokens)
                {
                    if (token.Finish != FinishReason.None)
                    {
                        unfinished--;
                    }
                    var final = unfinished == 0;
                    ModelInferResponse response;
                    var writing = Stopwatch.GetTimestamp();
                    if (IsEmitted(token))
                    {
                        cumulative[row][token.Sequence] += token.LogProb;
                        response = InferenceResponses.Token(job, host.ModelName, row, token, cumulative[row][token.Sequence], final);
                    }
                    else if (final)
                    {
                        response = InferenceResponses.EmptyFinal(job, host.ModelName);
                    }
                    else
                    {
                        continue;
                    }
                    scheduler.Statistics.OutputWritten(Stopwatch.GetElapsedTime(writing));
                    finalSent |= final;
                    await write(response).ConfigureAwait(false);
                }
            }
            finally
            {
                order.Release();
            }
        }, stepsAtEnd: false, cancellation).ConfigureAwait(false);
        if (!finalSent)
        {
            await write(InferenceResponses.EmptyFinal(job, host.ModelName)).ConfigureAwait(false);
        }
    }

    // As TensorRT-LLM, the end_id token ends a sequence without being part of it; stop words stay in.
    private static bool IsEmitted(SequenceToken token) => token.Finish != FinishReason.EndId;

    private bool IsServed(string name, string version) => name == host.ModelName && version is "" or ModelDescription.Version;

    /// <summary>The loaded model a request names, or the NOT_FOUND / UNAVAILABLE a request for it gets: checked before a
    /// body is read, so a request to a model that is not here hears that rather than what is wrong with its body.</summary>
    internal LoadedModel RequireModel(string name, string version)
    {
        if (name != host.ModelName)
        {
            throw ServingErrors.NotFound($"Request for unknown model: '{name}' is not found; this server serves '{host.ModelName}'.");
        }
        if (version is not ("" or ModelDescription.Version))
        {
            throw ServingErrors.NotFound($"Request for unknown model: '{name}' version {version} is not found; the only version is {ModelDescription.Version}.");
        }
        return host.Loaded ?? throw ServingErrors.Unavailable(host.Failure is null
            ? $"Model '{name}' is still loading; retry when ModelReady reports true."
            : $"Model '{name}' failed to load: {host.Failure}");
    }

    // A client's mistake is a warning without a stack; a fault of ours is an error with one.
    internal void Log(Exception error, string requestId, string method, Google.Rpc.Status status)
    {
        if (status.Code == (int)StatusCode.Internal)
        {
            LogFault(error, requestId, method);
        }
        else
        {
            LogRejected(requestId, method, (StatusCode)status.Code, status.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} on {Method} failed with {StatusCode}: {Detail}")]
    private partial void LogRejected(string requestId, string method, StatusCode statusCode, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Request {RequestId} on {Method} failed inside the server")]
    private partial void LogFault(Exception error, string requestId, string method);
}
