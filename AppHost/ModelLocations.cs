namespace GptjAspire.AppHost;

/// <summary>Where the services find the model files, from configuration.</summary>
/// <param name="TritonRepository">Triton model repository on this machine (<c>Triton:ModelRepository</c>, default <c>model_repository/</c> of this repository).</param>
/// <param name="CpuModel">Hugging Face model folder for CpuBackend and the Preprocessor (<c>Model:Path</c>); null = the services' built-in demo checkpoint.</param>
/// <param name="TritonTokenizer">The tokenizer folder that build_engine.sh put beside the engine, as the Preprocessor sees it.</param>
public sealed record ModelLocations(string TritonRepository, string? CpuModel, string TritonTokenizer)
{
    /// <summary>Reads the locations; relative paths are relative to the AppHost folder. Published, only the model volume exists.</summary>
    public static ModelLocations From(IDistributedApplicationBuilder builder)
    {
        string Resolve(string path) => Path.GetFullPath(path, builder.AppHostDirectory);

        var repository = Resolve(builder.Configuration["Triton:ModelRepository"] ?? Path.Combine("..", "model_repository"));
        if (builder.ExecutionContext.IsPublishMode)
        {
            return new ModelLocations(repository, CpuModel: null, TritonBackend.TokenizerInModelRepository);
        }

        var model = builder.Configuration["Model:Path"];
        return new ModelLocations(repository, model is null ? null : Resolve(model), Path.Combine(repository, "gptj", "tokenizer"));
    }

    /// <summary>The Preprocessor's Model__Path: the configured model, else the tokenizer of the model the backend serves.</summary>
    public string? TokenizerFor(BackendKind backend) => CpuModel ?? (backend == BackendKind.Triton ? TritonTokenizer : null);
}
