using System.Diagnostics;
using System.Diagnostics.Metrics;
using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Generation;
using Microsoft.Extensions.Options;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>Loads the model in the background at start and owns it and its generation scheduler (its state reaches /health and gRPC health through <see cref="ModelHealthCheck"/>).</summary>
public sealed partial class ModelHost(
    IOptions<ModelOptions> options,
    IOptions<GenerationOptions> generationOptions,
    IMeterFactory meterFactory,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<ModelHost>();
    private volatile LoadedModel? _loaded;
    private volatile string? _failure;
    private readonly CancellationTokenSource _loadFailed = new();

    /// <summary>The served model's name.</summary>
    public string ModelName { get; } = options.Value.Name;

    /// <summary>Largest batch (prompts per request).</summary>
    public int MaxBatchSize { get; } = options.Value.MaxBatchSize;

    /// <summary>Most sequences one request may ask for (<c>num_return_sequences</c>): all of them decode in one batch.</summary>
    public int MaxSequences { get; } = generationOptions.Value.MaxBatchSequences;

    /// <summary>Requests the scheduler queues before refusing.</summary>
    public int MaxQueuedRequests { get; } = generationOptions.Value.MaxQueuedRequests;

    /// <summary>The loaded model, or null while loading or after a failed load.</summary>
    public LoadedModel? Loaded => _loaded;

    /// <summary>Why loading failed, or null.</summary>
    public string? Failure => _failure;

    /// <summary>Cancelled once loading has failed, which it then does for good: the process stops on it (Program.cs).</summary>
    public CancellationToken LoadFailed => _loadFailed.Token;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(() => Load(stoppingToken), stoppingToken);

    private void Load(CancellationToken stoppingToken)
    {
        var path = options.Value.ResolvePath();
        LogLoading(ModelName, path, options.Value.WeightType?.ToString() ?? "checkpoint dtype");
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (!Directory.Exists(path))
            {
                throw new DirectoryNotFoundException($"Model folder '{path}' does not exist; set Model:Path (env Model__Path) to a GPT-J checkpoint folder.");
            }
            var model = GptjModel.Load(path, options.Value.WeightType, loggerFactory.CreateLogger<GptjModel>());
            if (stoppingToken.IsCancellationRequested)
            {
                model.Dispose();
                return;
            }
            var scheduler = new GenerationScheduler(model, generationOptions, meterFactory, loggerFactory.CreateLogger<GenerationScheduler>());
            _loaded = new LoadedModel(model, scheduler);
            var c = model.Config;
            LogLoaded(ModelName, Stopwatch.GetElapsedTime(started).TotalSeconds, c.LayerCount, c.EmbeddingSize, c.VocabSize, c.ContextLength);
        }
        catch (Exception error) when (error is CheckpointFormatException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // A bad or missing file: its message names the file (and tensor), a stack trace would add nothing.
            _failure = error.Message;
            LogLoadFailed(ModelName, path, error.Message);
            _loadFailed.Cancel();
        }
        catch (Exception error) when (error is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Anything else is a defect in the loader: keep the stack trace.
            _failure = error.Message;
            LogLoadFault(error, ModelName, path);
            _loadFailed.Cancel();
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _loadFailed.Dispose();
        // DI disposes this instance twice: as the singleton and as the hosted service its factory returned.
        if (Interlocked.Exchange(ref _loaded, null) is { } loaded)
        {
            loaded.Scheduler.Dispose();
            loaded.Model.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loading model {Model} from {Path} ({Storage})")]
    private partial void LogLoading(string model, string path, string storage);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} ready after {Seconds:F1} s: {Layers} layers, width {Width}, vocabulary {Vocab}, context {Context}")]
    private partial void LogLoaded(string model, double seconds, int layers, int width, int vocab, int context);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} failed to load from {Path}: {Reason}")]
    private partial void LogLoadFailed(string model, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} failed to load from {Path} with an unexpected error")]
    private partial void LogLoadFault(Exception error, string model, string path);
}

/// <summary>A model that finished loading, with the scheduler that runs its requests.</summary>
public sealed record LoadedModel(GptjModel Model, GenerationScheduler Scheduler)
{
    public GptjConfig Config => Model.Config;
}
