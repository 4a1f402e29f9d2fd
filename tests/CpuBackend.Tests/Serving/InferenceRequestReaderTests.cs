using Google.Protobuf;
using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Serving;
using Grpc.Core;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

public class InferenceRequestReaderTests
{
    private static readonly GptjConfig Config = new(VocabSize: 64, ContextLength: 48, EmbeddingSize: 16, LayerCount: 2, HeadCount: 2, RotaryDim: 4, InnerSize: 32, LayerNormEpsilon: 1e-5f, BosTokenId: 0, EosTokenId: 1);

    private static RpcException Rejected(ModelInferRequest request)
    {
        var error = Assert.Throws<RpcException>(() => InferenceRequestReader.Read(request, "gptj", maxBatchSize: 4, Config));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        return error;
    }

    [Fact]
    public void Valid_request_becomes_one_generation_request_with_contract_defaults()
    {
        var request = Requests.Generate([5, 6, 7], 4, endId: null, topK: null);

        var job = InferenceRequestReader.Read(request, "gptj", 4, Config);

        var row = Assert.Single(job.Rows);
        Assert.Equal([5, 6, 7], row.PromptIds);
        Assert.Equal(4, row.MaxNewTokens);
        Assert.Equal(1, row.NumSequences);
        Assert.Equal(Config.EosTokenId, row.EndId);
        Assert.Equal(0, row.Sampling.TopK);
        Assert.False(job.Streaming);
    }

    [Fact]
    public void Unknown_input_is_rejected_by_name()
    {
        var request = Requests.Generate([5], 2).AddInput<int>("random_seed", [1, 1], [3]);

        Assert.Contains("'random_seed'", Rejected(request).Status.Detail);
    }

    [Fact]
    public void Wrong_datatype_names_the_tensor_and_both_types()
    {
        var request = Requests.Generate([5], 2, topK: null).AddInput<float>(C.RuntimeTopK, [1, 1], [2f]);

        var detail = Rejected(request).Status.Detail;
        Assert.Contains("'runtime_top_k'", detail);
        Assert.Contains("FP32", detail);
        Assert.Contains("INT32", detail);
    }

    [Fact]
    public void Wrong_shape_names_the_tensor_and_the_expected_shape()
    {
        var request = new ModelInferRequest { ModelName = "gptj" }
            .AddInput<int>(C.InputIds, [1, 2], [5, 6])
            .AddInput<int>(C.InputLengths, [1, 2], [2, 2])
            .AddInput<int>(C.RequestOutputLen, [1, 1], [2]);

        var detail = Rejected(request).Status.Detail;
        Assert.Contains("'input_lengths'", detail);
        Assert.Contains("[1, 2]", detail);
        Assert.Contains("[-1, 1]", detail);
    }

    [Fact]
    public void Raw_contents_of_the_wrong_byte_size_name_the_tensor()
    {
        var request = Requests.Generate([5, 6], 2);
        request.RawInputContents[0] = ByteString.CopyFrom(new byte[7]);

        var detail = Rejected(request).Status.Detail;
        Assert.Contains("'input_ids'", detail);
        Assert.Contains("needs 8 bytes", detail);
    }

    [Fact]
    public void Missing_required_input_is_named()
    {
        var request = new ModelInferRequest { ModelName = "gptj" }
            .AddInput<int>(C.InputIds, [1, 1], [5])
            .AddInput<int>(C.InputLengths, [1, 1], [1]);

        Assert.Contains("'request_output_len'", Rejected(request).Status.Detail);
    }

    [Fact]
    public void Prompt_plus_output_beyond_the_context_window_is_rejected()
    {
        var request = Requests.Generate(new int[40], 9);

        var detail = Rejected(request).Status.Detail;
        Assert.Contains("40", detail);
        Assert.Contains("49", detail);
        Assert.Contains("context window of 48", detail);
    }

    [Fact]
    public void An_output_length_of_int_max_is_rejected_with_the_sum_it_asks_for_not_an_overflowed_one()
    {
        var detail = Rejected(Requests.Generate(new int[3], int.MaxValue)).Status.Detail;

        Assert.Contains("is 2147483650, beyond the context window of 48", detail);
    }

    [Fact]
    public void Prompt_plus_output_exactly_filling_the_context_is_accepted()
    {
        var job = InferenceRequestReader.Read(Requests.Generate(new int[40], 8), "gptj", 4, Config);

        Assert.Equal(8, job.Rows[0].MaxNewTokens);
    }

    [Fact]
    public void Token_outside_the_vocabulary_is_rejected()
    {
        Assert.Contains("token id 64", Rejected(Requests.Generate([3, 64], 2)).Status.Detail);
    }

    [Fact]
    public void Top_p_outside_its_range_is_rejected_by_tensor_name()
    {
        var request = Requests.Generate([5], 2).AddInput<float>(C.RuntimeTopP, [1, 1], [1.5f]);

        Assert.Contains("'runtime_top_p'", Rejected(request).Status.Detail);
    }

    [Theory]
    [InlineData(C.Temperature, float.NaN)]
    [InlineData(C.Temperature, float.PositiveInfinity)]
    [InlineData(C.Temperature, -1f)]
    [InlineData(C.RuntimeTopP, float.NaN)]
    [InlineData(C.RuntimeTopP, float.NegativeInfinity)]
    [InlineData(C.RuntimeTopP, 0f)]
    [InlineData(C.RepetitionPenalty, float.NaN)]
    [InlineData(C.RepetitionPenalty, float.PositiveInfinity)]
    [InlineData(C.RepetitionPenalty, -2f)]
    [InlineData(C.RepetitionPenalty, 1e-40f)]
    [InlineData(C.PresencePenalty, float.NaN)]
    [InlineData(C.FrequencyPenalty, float.NegativeInfinity)]
    public void Sampling_tensor_that_is_not_a_usable_number_is_rejected_by_tensor_name(string tensor, float value)
    {
        var request = Requests.Generate([5], 2).AddInput<float>(tensor, [1, 1], [value]);

        Assert.Contains($"'{tensor}'", Rejected(request).Status.Detail);
    }

    [Fact]
    public void Tensorrt_llm_inputs_are_read_the_penalties_and_minimum_length_as_sampling_and_beam_settings_at_their_sampling_values()
    {
        var request = Requests.Generate([5], 4)
            .AddInput<float>(C.PresencePenalty, [1, 1], [0.5f])
            .AddInput<float>(C.FrequencyPenalty, [1, 1], [-0.25f])
            .AddInput<int>(C.MinLength, [1, 1], [3])
            .AddInput<int>(C.BeamWidth, [1, 1], [1])
            .AddInput<float>(C.LenPenalty, [1, 1], [1.3f])
            .AddInput<bool>(C.EarlyStopping, [1, 1], [true])
            .AddInput<float>(C.BeamSearchDiversityRate, [1, 1], [0.2f])
            .AddInput<bool>(C.ReturnContextLogits, [1, 1], [false])
            .AddInput<bool>(C.ReturnGenerationLogits, [1, 1], [false]);

        var sampling = Assert.Single(InferenceRequestReader.Read(request, "gptj", 4, Config).Rows).Sampling;

        Assert.Equal((0.5f, -0.25f, 3), (sampling.PresencePenalty, sampling.FrequencyPenalty, sampling.MinNewTokens));
    }

    [Theory]
    [InlineData(C.BeamWidth, "Input 'beam_width' row 0 is 4; it must be 1: this server samples and does not search beams.")]
    [InlineData(C.MinLength, "Input 'min_length' row 0 is -1; it must be at least 0.")]
    public void Beam_search_and_a_negative_minimum_length_are_refused_naming_the_input(string tensor, string message)
    {
        var request = Requests.Generate([5], 2).AddInput<int>(tensor, [1, 1], [tensor == C.BeamWidth ? 4 : -1]);

        Assert.Equal(message, Rejected(request).Status.Detail);
    }

    [Fact]
    public void Embedding_bias_is_one_finite_value_per_vocabulary_token()
    {
        var bias = new float[Config.VocabSize];
        bias[7] = -100f;
        var row = Assert.Single(InferenceRequestReader.Read(Requests.Generate([5], 2).AddInput<float>(C.EmbeddingBias, [1, Config.VocabSize], bias), "gptj", 4, Config).Rows);

        Assert.Equal(-100f, row.Sampling.LogitBias![7]);
        Assert.Equal("Input 'embedding_bias' has 3 values a row; it must have one per token of the vocabulary (64).",
            Rejected(Requests.Generate([5], 2).AddInput<float>(C.EmbeddingBias, [1, 3], [0f, 0f, 0f])).Status.Detail);
        bias[9] = float.NaN;
        Assert.Contains("for token 9; every bias must be a finite number", Rejected(Requests.Generate([5], 2).AddInput<float>(C.EmbeddingBias, [1, Config.VocabSize], bias)).Status.Detail);
    }

    [Fact]
    public void Logits_outputs_are_refused_naming_the_input()
    {
        var request = Requests.Generate([5], 2).AddInput<bool>(C.ReturnGenerationLogits, [1, 1], [true]);

        Assert.Contains("'return_generation_logits'", Rejected(request).Status.Detail);
        Assert.Contains("does not return logits", Rejected(request).Status.Detail);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1e-40f)]
    [InlineData(9e-6f)]
    public void Temperature_below_the_greedy_epsilon_is_read_as_greedy(float temperature)
    {
        var request = Requests.Generate([5], 2, topK: null).AddInput<float>(C.Temperature, [1, 1], [temperature]);

        var row = Assert.Single(InferenceRequestReader.Read(request, "gptj", 4, Config).Rows);

        Assert.True(row.Sampling.IsGreedy);
    }

    [Fact]
    public void Batch_above_max_batch_size_is_rejected()
    {
        var request = new ModelInferRequest { ModelName = "gptj" }
            .AddInput<int>(C.InputIds, [5, 1], [1, 2, 3, 4, 5])
            .AddInput<int>(C.InputLengths, [5, 1], [1, 1, 1, 1, 1])
            .AddInput<int>(C.RequestOutputLen, [5, 1], [2, 2, 2, 2, 2]);

        Assert.Contains("max_batch_size", Rejected(request).Status.Detail);
    }

    [Fact]
    public void Ragged_batch_rows_use_their_own_lengths()
    {
        var request = new ModelInferRequest { ModelName = "gptj" }
            .AddInput<int>(C.InputIds, [2, 3], [5, 6, 7, 8, 9, 0])
            .AddInput<int>(C.InputLengths, [2, 1], [3, 2])
            .AddInput<int>(C.RequestOutputLen, [2, 1], [2, 4]);

        var job = InferenceRequestReader.Read(request, "gptj", 4, Config);

        Assert.Equal([5, 6, 7], job.Rows[0].PromptIds);
        Assert.Equal([8, 9], job.Rows[1].PromptIds);
        Assert.Equal(4, job.Rows[1].MaxNewTokens);
    }

    [Fact]
    public void Stop_words_list_is_read_as_ids_and_end_offsets()
    {
        // Two words, [10, 11] and [12], then -1 padding (TensorRT-LLM's layout).
        var request = Requests.Generate([5], 2).AddInput<int>(C.StopWordsList, [1, 2, 4], [10, 11, 12, 0, 2, 3, -1, -1]);

        var words = InferenceRequestReader.Read(request, "gptj", 4, Config).Rows[0].StopWords;

        Assert.Equal(2, words.Count);
        Assert.Equal([10, 11], words[0]);
        Assert.Equal([12], words[1]);
    }

    [Fact]
    public void Stop_words_with_decreasing_offsets_are_rejected()
    {
        var request = Requests.Generate([5], 2).AddInput<int>(C.StopWordsList, [1, 2, 2], [10, 11, 2, 1]);

        Assert.Contains("'stop_words_list'", Rejected(request).Status.Detail);
    }
}
