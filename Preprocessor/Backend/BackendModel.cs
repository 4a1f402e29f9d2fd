using System.Runtime.CompilerServices;
using Grpc.Core;
using GptjAspire.Preprocessor.Errors;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.Preprocessor.Backend;

/// <summary>The backend's model as seen through TritonClient: readiness (kept fresh by <see cref="BackendMonitor"/>) and the two calls generation needs.</summary>
public sealed class BackendModel(TritonInferenceClient client, string modelName, ILogger<BackendModel> logger)
{
    /// <summary>Discovery key of the backend's gRPC endpoint (Aspire's <c>services__backend__grpc__0</c>).</summary>
    public const string AddressKey = "services:backend:grpc:0";

    volatile BackendState _state = BackendState.Unknown;

    public string Name => modelName;

    public BackendState State => _state;

    /// <summary>Throws UNAVAILABLE with retry info unless the model was ready at the last check, so callers fail fast; the reason is in the log.</summary>
    public BackendState RequireReady()
    {
        var state = _state;
        return state.Ready ? state : throw BackendFailures.NotReady();
    }

    /// <summary>Asks the backend whether the model is ready and, on the way to ready, checks its metadata against the generation contract.</summary>
    public async Task<BackendState> RefreshAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var before = _state;
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        probe.CancelAfter(timeout);
        BackendState now;
        try
        {
            now = await ProbeAsync(probe.Token);
        }
        catch (RpcException e)
        {
            now = new BackendState(false, $"backend call failed: {e.StatusCode} {e.Status.Detail}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            now = new BackendState(false, $"the backend did not answer within {timeout.TotalSeconds} s");
        }
        now = KeepingLimits(now, before);
        if (now.Ready != before.Ready || now.Detail != before.Detail)
        {
            if (now.Ready)
                logger.LogInformation("Backend model {Model} is ready ({Platform}, max batch {MaxBatchSize})", modelName, now.Platform, now.MaxBatchSize);
            else
                logger.LogWarning("Backend model {Model} is not ready: {Detail}", modelName, now.Detail);
        }
        _state = now;
        return now;
    }

    async Task<BackendState> ProbeAsync(CancellationToken cancellationToken)
    {
        if (!await client.IsModelReadyAsync(modelName, cancellationToken: cancellationToken))
            return new BackendState(false, $"the backend reports model '{modelName}' not ready");
        if (_state.Ready)
            return _state;

        var metadata = await client.GetModelMetadataAsync(modelName, cancellationToken: cancellationToken);
        var missing = GenerationContract.Inputs.Where(t => !t.Optional)
            .Select(t => t.Name)
            .Except(metadata.Inputs.Select(i => i.Name))
            .ToList();
        if (missing.Count > 0)
            return new BackendState(false, $"model '{modelName}' lacks required inputs of the generation contract: {string.Join(", ", missing)}");
        var config = await client.GetModelConfigAsync(modelName, cancellationToken: cancellationToken);
        try
        {
            return new BackendState(true, "ready", metadata.Platform, config.MaxBatchSize, BackendLimits.From(config));
        }
        catch (InvalidBackendConfigException e)
        {
            return new BackendState(false, e.Message);
        }
    }

    /// <summary>Streams the responses of one decoupled request until the one marked final; disposing the enumeration cancels it on the backend.</summary>
    public async IAsyncEnumerable<ModelInferResponse> StreamInferAsync(
        ModelInferRequest request, DateTime deadline, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var responses = client.StreamInferAsync(request, Deadline(deadline), cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await responses.MoveNextAsync())
                    yield break;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                Lost(e);
                throw;
            }
            yield return responses.Current;
        }
    }

    // While the backend is down, the limits its model configuration last stated still describe it better than this
    // service's own defaults (GetModelInfo reported max_samples 64 for a backend that takes 16); its next ready state
    // replaces them.
    static BackendState KeepingLimits(BackendState now, BackendState before) =>
        now.Ready || now.Limits is not null ? now : now with { Limits = before.Limits };

    static DateTime? Deadline(DateTime deadline) => deadline == DateTime.MaxValue ? null : deadline;

    // The backend went away mid-call: stop reporting ready now rather than at the monitor's next poll,
    // so health (and the Gateway's) says so until the monitor sees the model ready again.
    void Lost(RpcException error)
    {
        _state = KeepingLimits(new BackendState(false, $"backend unreachable: {error.Status.Detail}"), _state);
        logger.LogWarning("Lost the backend during a call: {Detail}", error.Status.Detail);
    }
}
