using GptjAspire.CpuBackend.Engine;
using GptjAspire.TritonClient.Generation;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>Which model CpuBackend serves and how, bound from the configuration section <c>Model</c>.</summary>
public sealed class ModelOptions
{
    public const string SectionName = "Model";

    /// <summary>Folder with the HF config.json and weights; unset means the demo checkpoint copied next to the binaries.</summary>
    public string? Path { get; set; }

    /// <summary>The name clients address the model by (KServe <c>model_name</c>).</summary>
    public string Name { get; set; } = GenerationContract.DefaultModelName;

    /// <summary>Weight storage in memory; unset keeps the checkpoint's dtype (memory-mapped).</summary>
    public WeightType? WeightType { get; set; }

    /// <summary>Largest number of prompts (batch rows) one request may carry; the model configuration's max_batch_size.</summary>
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>The folder to load: <see cref="Path"/>, or <c>models/gptj-vi-demo</c> under the application's base directory.</summary>
    public string ResolvePath() =>
        string.IsNullOrWhiteSpace(Path) ? System.IO.Path.Combine(AppContext.BaseDirectory, "models", "gptj-vi-demo") : Path;
}
