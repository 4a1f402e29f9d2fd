namespace GptjAspire.TritonClient.Generation;

/// <summary>One tensor of the generation contract: its name, KServe datatype, shape with the batch dimension first, and whether a request may leave it out.</summary>
/// <param name="Name">Tensor name as Triton's TensorRT-LLM backend spells it.</param>
/// <param name="Datatype">KServe v2 datatype string ("INT32", "FP32", "UINT64", "BOOL").</param>
/// <param name="Shape">Full shape, batch dimension first; -1 is a variable dimension.</param>
/// <param name="Optional">True when a request may omit the input (or a response may omit the output).</param>
public sealed record GenerationTensor(string Name, string Datatype, long[] Shape, bool Optional)
{
    /// <summary>The dims a model configuration lists for this tensor: the shape without its batch dimension (max_batch_size &gt; 0).</summary>
    public long[] ConfigDims => Shape[1..];
}

/// <summary>The generation tensor contract shared by CpuBackend and Triton's TensorRT-LLM backend (see ARCHITECTURE.md, "Generation tensor contract").</summary>
/// <remarks>
/// Names, datatypes and dims follow tensorrtllm_backend's
/// <c>all_models/inflight_batcher_llm/tensorrt_llm/config.pbtxt</c>, where every
/// scalar is <c>dims: [ 1 ]</c> under a leading batch dimension, so on the wire a
/// scalar is <c>[b, 1]</c>.
///
/// Decisions, kept identical in CpuBackend and expected of a Triton deployment:
/// <list type="bullet">
/// <item>The seed input is <c>seed</c> (UINT64): TensorRT-LLM renamed <c>random_seed</c> to
/// <c>seed</c> in 2025 and current backends reject the old name.</item>
/// <item>A response's <c>output_ids</c> is <c>[1, k, len]</c>. When the response carries
/// <c>sequence_index</c> (<c>[1, 1]</c>), k = 1 and it holds that one sample; this is what
/// TensorRT-LLM sends for <c>num_return_sequences</c> &gt; 1, one response per sample.
/// Without <c>sequence_index</c>, k is the number of samples, in order, padded to the
/// longest with <c>pad_id</c> (else <c>end_id</c>); <c>sequence_length</c> gives each real length.</item>
/// <item>Streaming (<c>streaming</c> = true on ModelStreamInfer): one response per generated
/// token per sample, holding only that new token (<c>[1, 1, 1]</c>) and <c>sequence_index</c>
/// when there are several samples; the last response of the request carries the
/// <c>triton_final_response</c> parameter.</item>
/// <item>Non-streaming: <c>output_ids</c> starts with the prompt unless
/// <c>exclude_input_in_output</c> is true (TensorRT-LLM's default); <c>sequence_length</c>
/// counts what <c>output_ids</c> holds. Clients that want only new tokens set it to true.</item>
/// <item><c>batch_index</c> (<c>[1, 1]</c>) names the batch row of a response when a request
/// carried more than one prompt.</item>
/// </list>
/// </remarks>
public static class GenerationContract
{
    /// <summary>Model name the backend serves unless configured otherwise (<c>Model:Name</c>).</summary>
    public const string DefaultModelName = "gptj";

    /// <summary>Response parameter (bool) marking the last response of a request on a decoupled stream.</summary>
    public const string FinalResponseParameter = "triton_final_response";

    /// <summary>Request parameter (bool) asking Triton to send an empty response when a decoupled model signals completion without data.</summary>
    public const string EnableEmptyFinalResponseParameter = "triton_enable_empty_final_response";

    /// <summary>A <c>temperature</c> below this is greedy decoding (arg-max), as temperature 0 is in Hugging Face
    /// <c>generate()</c>: dividing float32 logits by anything smaller can overflow to infinity and turn the softmax
    /// into NaN. The same epsilon as vLLM's sampling parameters.</summary>
    public const float GreedyTemperatureBelow = 1e-5f;

    /// <summary>Smallest <c>repetition_penalty</c> accepted: dividing a logit by a smaller one can overflow float32
    /// (HF only requires a positive penalty; below 1 it rewards repetition, and 0.01 already makes it near certain).</summary>
    public const float MinRepetitionPenalty = 0.01f;

    /// <summary>Model configuration parameter: tokens the model attends to (prompt + new tokens). Not a TensorRT-LLM
    /// parameter; CpuBackend reports it and config.pbtxt sets it, so clients size prompts without the checkpoint.</summary>
    public const string ContextLengthParameter = "context_length";

    /// <summary>Model configuration parameter: most sequences (<c>num_return_sequences</c>) one request may ask for.</summary>
    public const string MaxNumSequencesParameter = "max_num_sequences";

    /// <summary>Model configuration parameter: longest prompt in tokens, as TensorRT-LLM's engine build option <c>--max_input_len</c>.</summary>
    public const string MaxInputLenParameter = "max_input_len";

    /// <summary>Model configuration parameter: token positions the KV cache holds for all running sequences together, as
    /// TensorRT-LLM's <c>max_tokens_in_paged_kv_cache</c>. A request needs at most sequences × (prompt + new tokens) of them
    /// (each sample holding the prompt; CpuBackend's samples share it and need prompt + sequences × new tokens); one that
    /// needs more than that bound can never run on a backend that does not share, however long it waits.</summary>
    public const string MaxTokensInKvCacheParameter = "max_tokens_in_paged_kv_cache";

    /// <summary>Model configuration parameter, "true" or "false": whether a request's samples share its prompt's KV-cache
    /// positions (CpuBackend's forks) rather than each holding a copy, so that a request needs prompt + sequences × new
    /// tokens of <see cref="MaxTokensInKvCacheParameter"/>. Not a TensorRT-LLM parameter; absent means each sample holds the prompt.</summary>
    public const string KvCacheSharesPromptParameter = "kv_cache_shares_prompt";

    public const string InputIds = "input_ids";
    public const string InputLengths = "input_lengths";
    public const string RequestOutputLen = "request_output_len";
    public const string EndId = "end_id";
    public const string PadId = "pad_id";
    public const string RuntimeTopK = "runtime_top_k";
    public const string RuntimeTopP = "runtime_top_p";
    public const string Temperature = "temperature";
    public const string RepetitionPenalty = "repetition_penalty";
    public const string Seed = "seed";
    public const string NumReturnSequences = "num_return_sequences";
    public const string Streaming = "streaming";
    public const string StopWordsList = "stop_words_list";
    public const string BadWordsList = "bad_words_list";
    public const string ExcludeInputInOutput = "exclude_input_in_output";
    public const string ReturnLogProbs = "return_log_probs";
    public const string PresencePenalty = "presence_penalty";
    public const string FrequencyPenalty = "frequency_penalty";
    public const string MinLength = "min_length";
    public const string EmbeddingBias = "embedding_bias";
    public const string BeamWidth = "beam_width";
    public const string LenPenalty = "len_penalty";
    public const string EarlyStopping = "early_stopping";
    public const string BeamSearchDiversityRate = "beam_search_diversity_rate";
    public const string ReturnContextLogits = "return_context_logits";
    public const string ReturnGenerationLogits = "return_generation_logits";

    public const string OutputIds = "output_ids";
    public const string SequenceLength = "sequence_length";
    public const string CumLogProbs = "cum_log_probs";
    public const string OutputLogProbs = "output_log_probs";
    public const string SequenceIndex = "sequence_index";
    public const string BatchIndex = "batch_index";

    /// <summary>Inputs, in the order a model configuration lists them.</summary>
    public static IReadOnlyList<GenerationTensor> Inputs { get; } =
    [
        new(InputIds, "INT32", [-1, -1], Optional: false),
        new(InputLengths, "INT32", [-1, 1], Optional: false),
        new(RequestOutputLen, "INT32", [-1, 1], Optional: false),
        new(EndId, "INT32", [-1, 1], Optional: true),
        new(PadId, "INT32", [-1, 1], Optional: true),
        new(StopWordsList, "INT32", [-1, 2, -1], Optional: true),
        new(BadWordsList, "INT32", [-1, 2, -1], Optional: true),
        new(Temperature, "FP32", [-1, 1], Optional: true),
        new(RuntimeTopK, "INT32", [-1, 1], Optional: true),
        new(RuntimeTopP, "FP32", [-1, 1], Optional: true),
        new(RepetitionPenalty, "FP32", [-1, 1], Optional: true),
        new(Seed, "UINT64", [-1, 1], Optional: true),
        new(NumReturnSequences, "INT32", [-1, 1], Optional: true),
        new(ReturnLogProbs, "BOOL", [-1, 1], Optional: true),
        new(ExcludeInputInOutput, "BOOL", [-1, 1], Optional: true),
        new(Streaming, "BOOL", [-1, 1], Optional: true),
        // OpenAI's penalties on the tokens generated so far: logit - frequency × count - presence × (count > 0).
        new(PresencePenalty, "FP32", [-1, 1], Optional: true),
        new(FrequencyPenalty, "FP32", [-1, 1], Optional: true),
        // New tokens before end_id may end a sequence.
        new(MinLength, "INT32", [-1, 1], Optional: true),
        // Added to the logits before any other processing, one value per token of the model's vocabulary (OpenAI's logit_bias).
        new(EmbeddingBias, "FP32", [-1, -1], Optional: true),
        // TensorRT-LLM's beam search and logits outputs, which clients written for it send with their defaults: a sampling
        // backend takes beam_width 1, the beam-only len_penalty, early_stopping and diversity rate (which then do nothing),
        // and false for the logits flags.
        new(BeamWidth, "INT32", [-1, 1], Optional: true),
        new(LenPenalty, "FP32", [-1, 1], Optional: true),
        new(EarlyStopping, "BOOL", [-1, 1], Optional: true),
        new(BeamSearchDiversityRate, "FP32", [-1, 1], Optional: true),
        new(ReturnContextLogits, "BOOL", [-1, 1], Optional: true),
        new(ReturnGenerationLogits, "BOOL", [-1, 1], Optional: true),
    ];

    /// <summary>Outputs, in the order a model configuration lists them.</summary>
    public static IReadOnlyList<GenerationTensor> Outputs { get; } =
    [
        new(OutputIds, "INT32", [-1, -1, -1], Optional: false),
        new(SequenceLength, "INT32", [-1, -1], Optional: false),
        new(CumLogProbs, "FP32", [-1, -1], Optional: true),
        new(OutputLogProbs, "FP32", [-1, -1, -1], Optional: true),
        new(BatchIndex, "INT32", [-1, 1], Optional: true),
        new(SequenceIndex, "INT32", [-1, 1], Optional: true),
    ];

    /// <summary>The input named <paramref name="name"/>, or null when the contract has none.</summary>
    public static GenerationTensor? FindInput(string name) => Inputs.FirstOrDefault(t => t.Name == name);
}
