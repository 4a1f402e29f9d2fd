using GptjAspire.Gateway.Preprocessing;
using GptjAspire.Gptj.V1;

namespace GptjAspire.Gateway;

/// <summary>The served model's name, context window and limits as the Preprocessor's <c>GetModelInfo</c> reports them: the one source
/// the Gateway validates requests against and lists at <c>/v1/models</c> (the Preprocessor takes them from the backend's model
/// configuration where it states them, and from its own options otherwise).</summary>
/// <remarks>Kept while the model is ready and refreshed by every readiness check; a report of a model that is not ready is used for
/// that request only, so limits the backend states are picked up as soon as it is ready.</remarks>
public sealed class ServedModel(PreprocessorClient preprocessor)
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    volatile ModelInfo? _ready;

    /// <summary>The last report of a ready model, or a fresh one.</summary>
    public async ValueTask<ModelInfo> GetAsync(CancellationToken cancellationToken) =>
        _ready ?? await RefreshAsync(Timeout, cancellationToken);

    /// <summary>Asks the Preprocessor now and keeps the answer while it reports the model ready.</summary>
    public async Task<ModelInfo> RefreshAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var info = await preprocessor.GetModelInfoAsync(timeout, cancellationToken);
        _ready = info.Ready ? info : null;
        return info;
    }
}
