using GptjAspire.TritonClient.Generation;
using GptjAspire.Testing;

namespace GptjAspire.Deploy.Tests.ModelRepository;

/// <summary>model_repository/gptj/config.pbtxt is a valid Triton ModelConfig that serves our generation tensor contract.</summary>
public sealed class GptjModelConfigTests
{
    private static readonly string ConfigPath = RepositoryPaths.Combine("model_repository", "gptj", "config.pbtxt");

    private static readonly Lazy<Task<ParsedModelConfig>> Parsed = new(async () =>
    {
        var (config, result) = await ParsedModelConfig.ParseAsync(ConfigPath);
        return config ?? throw new InvalidOperationException($"config.pbtxt was rejected by the ModelConfig parser: {result}");
    });

    [Fact]
    public async Task Config_parses_as_ModelConfig_text_format_for_the_tensorrtllm_backend()
    {
        var config = await Parsed.Value;

        Assert.Equal("tensorrtllm", config.Backend);
        Assert.True(config.MaxBatchSize > 0, "the contract puts the batch dimension first, so max_batch_size must be > 0");
    }

    [Fact]
    public async Task Model_is_named_as_the_contract_default_and_its_folder()
    {
        var config = await Parsed.Value;

        // Triton names a model by its folder; a `name` field must agree with it.
        Assert.Equal(GenerationContract.DefaultModelName, config.Name);
        Assert.Equal(GenerationContract.DefaultModelName, new DirectoryInfo(Path.GetDirectoryName(ConfigPath)!).Name);
    }

    [Fact]
    public async Task Model_is_decoupled_with_inflight_batching_and_kv_cache_reuse()
    {
        var config = await Parsed.Value;

        Assert.True(config.Decoupled, "streaming needs model_transaction_policy.decoupled");
        Assert.Equal("inflight_fused_batching", config.Parameter("gpt_model_type"));
        Assert.Equal("true", config.Parameter("enable_kv_cache_reuse"));
        Assert.NotNull(config.Parameter("kv_cache_free_gpu_mem_fraction"));
    }

    [Fact]
    public async Task Limits_the_preprocessor_reads_match_the_engine_build()
    {
        var config = await Parsed.Value;

        // tools/trtllm/build_engine.sh: --max_seq_len 2048, --max_input_len 2047, --max_batch_size = max_batch_size.
        Assert.Equal("2048", config.Parameter(GenerationContract.ContextLengthParameter));
        Assert.Equal("2047", config.Parameter(GenerationContract.MaxInputLenParameter));
        Assert.Equal(config.MaxBatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture), config.Parameter(GenerationContract.MaxNumSequencesParameter));
    }

    [Fact]
    public async Task Engine_path_is_inside_the_model_version_folder_of_the_mounted_repository()
    {
        var config = await Parsed.Value;

        Assert.Equal("/models/gptj/1/engine", config.Parameter("gpt_model_path"));
    }

    [Fact]
    public async Task Every_contract_input_is_declared_with_the_same_datatype_and_a_compatible_shape()
    {
        var config = await Parsed.Value;

        var problems = CompareWithContract(GenerationContract.Inputs, config.Inputs, config.MaxBatchSize).ToList();

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task Every_contract_output_is_declared_with_the_same_datatype_and_a_compatible_shape()
    {
        var config = await Parsed.Value;

        var problems = CompareWithContract(GenerationContract.Outputs, config.Outputs, config.MaxBatchSize, checkOptional: false).ToList();

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task Parser_rejects_a_field_ModelConfig_does_not_have()
    {
        var broken = Path.Combine(Path.GetTempPath(), $"gptj-config-{Guid.NewGuid():N}.pbtxt");
        try
        {
            await File.WriteAllTextAsync(broken, (await File.ReadAllTextAsync(ConfigPath)).Replace("max_batch_size:", "max_batch_sise:"));

            var (config, result) = await ParsedModelConfig.ParseAsync(broken);

            Assert.Null(config);
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("max_batch_sise", result.Stderr);
        }
        finally
        {
            File.Delete(broken);
        }
    }

    [Fact]
    public void Comparison_reports_a_wrong_datatype_a_wrong_shape_and_a_missing_tensor()
    {
        GenerationTensor[] contract =
        [
            new("a", "INT32", [-1, 1], Optional: false),
            new("b", "FP32", [-1, 2, -1], Optional: true),
            new("c", "BOOL", [-1, 1], Optional: true),
        ];
        DeclaredTensor[] declared =
        [
            new("a", "TYPE_UINT32", [1], Optional: false),
            new("b", "TYPE_FP32", [3, -1], Optional: true),
        ];

        var problems = CompareWithContract(contract, declared, maxBatchSize: 8).ToList();

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("a:", StringComparison.Ordinal) && p.Contains("TYPE_UINT32"));
        Assert.Contains(problems, p => p.StartsWith("b:", StringComparison.Ordinal) && p.Contains("shape"));
        Assert.Contains(problems, p => p.StartsWith("c:", StringComparison.Ordinal) && p.Contains("not declared"));
    }

    /// <summary>Every contract tensor must be declared with TYPE_&lt;datatype&gt;, a shape that can hold the contract's, and (inputs) optional exactly when the contract says so.</summary>
    private static IEnumerable<string> CompareWithContract(IEnumerable<GenerationTensor> contract, IReadOnlyList<DeclaredTensor> declared, int maxBatchSize, bool checkOptional = true)
    {
        foreach (var tensor in contract)
        {
            var match = declared.FirstOrDefault(d => d.Name == tensor.Name);
            if (match is null)
            {
                yield return $"{tensor.Name}: not declared in config.pbtxt";
                continue;
            }

            if (match.DataType != "TYPE_" + tensor.Datatype)
            {
                yield return $"{tensor.Name}: config declares {match.DataType}, the contract sends {tensor.Datatype}";
            }

            // With max_batch_size > 0 Triton prepends the batch dimension to dims (model_config.proto).
            long[] full = maxBatchSize > 0 ? [-1, .. match.Dims] : match.Dims;
            if (!ShapesCompatible(tensor.Shape, full))
            {
                yield return $"{tensor.Name}: config shape [{string.Join(", ", full)}] cannot hold the contract shape [{string.Join(", ", tensor.Shape)}]";
            }

            // A required input the client may omit would be rejected by Triton; an optional one must say so.
            if (checkOptional && match.Optional != tensor.Optional)
            {
                yield return $"{tensor.Name}: config says optional={match.Optional}, the contract says optional={tensor.Optional}";
            }
        }
    }

    private static bool ShapesCompatible(long[] contract, long[] config) =>
        contract.Length == config.Length
        && contract.Zip(config).All(pair => pair.First == pair.Second || pair.First == -1 || pair.Second == -1);
}
