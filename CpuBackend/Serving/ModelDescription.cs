using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>What CpuBackend tells clients about its model: the KServe model metadata and the Triton model configuration, both from <see cref="GenerationContract"/>.</summary>
internal static class ModelDescription
{
    /// <summary>CpuBackend serves exactly one version of its model.</summary>
    public const string Version = "1";

    /// <summary>The backend name reported as platform and backend.</summary>
    public const string BackendName = "gptj_cpu";

    public static ModelMetadataResponse Metadata(string modelName)
    {
        var metadata = new ModelMetadataResponse { Name = modelName, Platform = BackendName, Versions = { Version } };
        foreach (var tensor in GenerationContract.Inputs)
        {
            metadata.Inputs.Add(new ModelMetadataResponse.Types.TensorMetadata { Name = tensor.Name, Datatype = tensor.Datatype, Shape = { tensor.Shape } });
        }
        foreach (var tensor in GenerationContract.Outputs)
        {
            metadata.Outputs.Add(new ModelMetadataResponse.Types.TensorMetadata { Name = tensor.Name, Datatype = tensor.Datatype, Shape = { tensor.Shape } });
        }
        return metadata;
    }

    public static ModelConfig Config(string modelName, int maxBatchSize, int maxQueuedRequests, int contextLength, int maxSequences, long kvCachePositions)
    {
        var config = new ModelConfig
        {
            Name = modelName,
            Backend = BackendName,
            MaxBatchSize = maxBatchSize,
            // One response per generated token on ModelStreamInfer, as TensorRT-LLM's decoupled mode.
            ModelTransactionPolicy = new ModelTransactionPolicy { Decoupled = true },
            DynamicBatching = new ModelDynamicBatching { DefaultQueuePolicy = new ModelQueuePolicy { MaxQueueSize = (uint)maxQueuedRequests } },
            InstanceGroup = { new ModelInstanceGroup { Count = 1, Kind = ModelInstanceGroup.Types.Kind.Cpu } },
        };
        // Not TensorRT-LLM parameters: the limits clients (the Preprocessor's GetModelInfo) size requests by, without reading the checkpoint.
        config.Parameters[GenerationContract.ContextLengthParameter] = Parameter(contextLength);
        config.Parameters[GenerationContract.MaxNumSequencesParameter] = Parameter(maxSequences);
        config.Parameters[GenerationContract.MaxTokensInKvCacheParameter] = Parameter((int)Math.Min(kvCachePositions, int.MaxValue));
        // The scheduler reserves a request's prompt once: its samples' caches are forks of the prefilled one.
        config.Parameters[GenerationContract.KvCacheSharesPromptParameter] = new ModelParameter { StringValue = "true" };
        foreach (var tensor in GenerationContract.Inputs)
        {
            config.Input.Add(new ModelInput
            {
                Name = tensor.Name,
                DataType = KServeDatatype.ToConfig(tensor.Datatype),
                Dims = { tensor.ConfigDims },
                Optional = tensor.Optional,
                AllowRaggedBatch = tensor.ConfigDims.Contains(-1),
            });
        }
        foreach (var tensor in GenerationContract.Outputs)
        {
            config.Output.Add(new ModelOutput { Name = tensor.Name, DataType = KServeDatatype.ToConfig(tensor.Datatype), Dims = { tensor.ConfigDims } });
        }
        return config;
    }

    private static ModelParameter Parameter(int value) => new() { StringValue = value.ToString(System.Globalization.CultureInfo.InvariantCulture) };
}
