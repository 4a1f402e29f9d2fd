using GptjAspire.Gptj.V1;
using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Generation;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.Preprocessor.Tests.Backend;

public sealed class GenerationTensorsTests
{
    static GenerationPlan Plan(SamplingParameters sampling, int samples = 3) =>
        new("req-1", "p", [5, 6, 7], samples, 9, sampling, [], [], false, 263);

    [Fact]
    public void Request_carries_every_required_contract_input_with_its_datatype_and_batch_shape()
    {
        var request = GenerationTensors.Request(Plan(new SamplingParameters { TopK = 50, TopP = 0.9f, Seed = 7 }), "gptj", streaming: true);

        Assert.Equal(("gptj", "req-1"), (request.ModelName, request.Id));
        foreach (var input in request.Inputs)
        {
            var contract = GenerationContract.FindInput(input.Name);
            Assert.NotNull(contract);
            Assert.Equal(contract.Datatype, input.Datatype);
            Assert.Equal(contract.Shape.Length, input.Shape.Count);
            Assert.Equal(1, input.Shape[0]);
        }
        Assert.Equal([5, 6, 7], request.GetInput<int>(GenerationContract.InputIds).Data);
        Assert.Equal([3], request.GetInput<int>(GenerationContract.InputLengths).Data);
        Assert.Equal([9], request.GetInput<int>(GenerationContract.RequestOutputLen).Data);
        Assert.Equal([3], request.GetInput<int>(GenerationContract.NumReturnSequences).Data);
        Assert.Equal([263], request.GetInput<int>(GenerationContract.EndId).Data);
        Assert.Equal([50], request.GetInput<int>(GenerationContract.RuntimeTopK).Data);
        Assert.Equal([0.9f], request.GetInput<float>(GenerationContract.RuntimeTopP).Data);
        Assert.Equal([7UL], request.GetInput<ulong>(GenerationContract.Seed).Data);
        Assert.Equal([true], request.GetInput<bool>(GenerationContract.Streaming).Data);
        Assert.Equal([true], request.GetInput<bool>(GenerationContract.ExcludeInputInOutput).Data);
    }

    [Fact]
    public void Stop_token_ids_travel_as_tensorrt_llm_word_list_ids_then_cumulative_end_offsets_padded_with_minus_one()
    {
        var plan = Plan(new SamplingParameters()) with { Stop = ["\n", "ab c"], StopTokenIds = [[10], [97, 98, 32, 99]] };

        var words = GenerationTensors.Request(plan, "gptj", streaming: false).GetInput<int>(GenerationContract.StopWordsList);

        Assert.Equal([1L, 2, 5], words.Shape);
        Assert.Equal([10, 97, 98, 32, 99, 1, 5, -1, -1, -1], words.Data);
    }

    [Fact]
    public void Without_stop_sequences_no_word_list_is_sent()
    {
        Assert.Null(GenerationTensors.Request(Plan(new SamplingParameters()), "gptj", streaming: false).FindInput<int>(GenerationContract.StopWordsList));
    }

    [Fact]
    public void Unset_optional_sampling_parameters_are_left_to_the_backend()
    {
        var request = GenerationTensors.Request(Plan(new SamplingParameters()), "gptj", streaming: false);

        Assert.Null(request.FindInput<float>(GenerationContract.RuntimeTopP));
        Assert.Null(request.FindInput<float>(GenerationContract.Temperature));
        Assert.Null(request.FindInput<float>(GenerationContract.RepetitionPenalty));
        Assert.Null(request.FindInput<ulong>(GenerationContract.Seed));
        Assert.Null(request.FindInput<float>(GenerationContract.PresencePenalty));
        Assert.Null(request.FindInput<float>(GenerationContract.FrequencyPenalty));
        Assert.Null(request.FindInput<int>(GenerationContract.MinLength));
    }

    [Fact]
    public void A_logit_bias_travels_as_the_dense_embedding_bias()
    {
        var request = GenerationTensors.Request(Plan(new SamplingParameters()) with { LogitBias = [0f, -100f, 0f, 2f] }, "gptj", streaming: false);

        var bias = request.GetInput<float>(GenerationContract.EmbeddingBias);
        Assert.Equal([1L, 4], bias.Shape);
        Assert.Equal([0f, -100f, 0f, 2f], bias.Data);
    }

    [Fact]
    public void A_minimum_of_new_tokens_travels_as_min_length()
    {
        var request = GenerationTensors.Request(Plan(new SamplingParameters()) with { MinNewTokens = 4 }, "gptj", streaming: false);

        Assert.Equal([4], request.GetInput<int>(GenerationContract.MinLength).Data);
    }

    [Fact]
    public void Presence_and_frequency_penalties_travel_as_tensorrt_llms_inputs()
    {
        var request = GenerationTensors.Request(Plan(new SamplingParameters { PresencePenalty = 0.5f, FrequencyPenalty = -1f }), "gptj", streaming: false);

        Assert.Equal([0.5f], request.GetInput<float>(GenerationContract.PresencePenalty).Data);
        Assert.Equal([-1f], request.GetInput<float>(GenerationContract.FrequencyPenalty).Data);
    }

    [Fact]
    public void All_samples_in_one_response_are_cut_at_their_sequence_length()
    {
        var response = new ModelInferResponse()
            .AddOutput<int>(GenerationContract.OutputIds, [1, 2, 3], [10, 11, 12, 20, 263, 263])
            .AddOutput<int>(GenerationContract.SequenceLength, [1, 2], [3, 1]);

        var tokens = GenerationTensors.Tokens(response, samples: 2).ToList();

        Assert.Equal([0, 1], tokens.Select(t => t.Sample));
        Assert.Equal([10, 11, 12], tokens[0].Tokens);
        Assert.Equal([20], tokens[1].Tokens);
    }

    [Fact]
    public void Streamed_response_with_sequence_index_belongs_to_that_sample()
    {
        var response = new ModelInferResponse()
            .AddOutput<int>(GenerationContract.OutputIds, [1, 1, 1], [42])
            .AddOutput<int>(GenerationContract.SequenceIndex, [1, 1], [2]);

        var (sample, tokens) = Assert.Single(GenerationTensors.Tokens(response, samples: 3));

        Assert.Equal(2, sample);
        Assert.Equal([42], tokens);
    }

    [Fact]
    public void Sample_index_outside_the_request_is_a_format_error()
    {
        var response = new ModelInferResponse()
            .AddOutput<int>(GenerationContract.OutputIds, [1, 1, 1], [42])
            .AddOutput<int>(GenerationContract.SequenceIndex, [1, 1], [5]);

        Assert.Throws<TensorFormatException>(() => GenerationTensors.Tokens(response, samples: 3).ToList());
    }
}
