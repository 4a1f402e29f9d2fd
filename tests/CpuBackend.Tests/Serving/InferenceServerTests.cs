using Grpc.Core;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>CpuBackend's KServe service end to end over real HTTP/2, called through TritonClient.</summary>
public sealed class InferenceServerTests : IAsyncLifetime
{
    private BackendHost _backend = null!;

    public async Task InitializeAsync() => _backend = await BackendHost.StartAsync();

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    private TritonInferenceClient Client => _backend.Client;

    [Fact]
    public async Task Loaded_server_reports_live_ready_and_its_model()
    {
        Assert.True(await Client.IsServerLiveAsync());
        Assert.True(await Client.IsServerReadyAsync());
        Assert.True(await Client.IsModelReadyAsync("gptj"));
        Assert.False(await Client.IsModelReadyAsync("llama"));
        var index = await Client.GetRepositoryIndexAsync(readyOnly: true);
        Assert.Equal("READY", Assert.Single(index.Models).State);
    }

    [Fact]
    public async Task Model_config_states_the_kv_cache_budget_in_token_positions_and_that_samples_share_the_prompt()
    {
        // 1,000 positions of the tiny model's f32 cache, plus a few bytes that do not make a whole position.
        var perPosition = GptjAspire.CpuBackend.Engine.KvCache.BytesPerPosition(_backend.Model.Loaded!.Config, GptjAspire.CpuBackend.Engine.KvCacheType.F32);
        await using var backend = await BackendHost.StartAsync(new Dictionary<string, string?> { ["Generation:KvCacheBudgetBytes"] = (1000 * perPosition + 7).ToString(System.Globalization.CultureInfo.InvariantCulture) });

        var config = await backend.Client.GetModelConfigAsync("gptj");

        Assert.Equal("1000", config.Parameters[C.MaxTokensInKvCacheParameter].StringValue);
        Assert.Equal("true", config.Parameters[C.KvCacheSharesPromptParameter].StringValue);
    }

    [Fact]
    public async Task Model_config_and_metadata_describe_the_generation_contract()
    {
        var config = await Client.GetModelConfigAsync("gptj");
        var metadata = await Client.GetModelMetadataAsync("gptj");

        Assert.True(config.ModelTransactionPolicy.Decoupled);
        Assert.Equal(8, config.MaxBatchSize);
        Assert.Equal(C.Inputs.Select(i => i.Name), config.Input.Select(i => i.Name));
        var ids = config.Input.Single(i => i.Name == C.InputIds);
        Assert.Equal(DataType.TypeInt32, ids.DataType);
        Assert.Equal([-1L], ids.Dims);
        Assert.True(config.Input.Single(i => i.Name == C.Seed).Optional);
        Assert.Equal("48", config.Parameters[C.ContextLengthParameter].StringValue);
        Assert.Equal("16", config.Parameters[C.MaxNumSequencesParameter].StringValue);
        var outputIds = metadata.Outputs.Single(o => o.Name == C.OutputIds);
        Assert.Equal("INT32", outputIds.Datatype);
        Assert.Equal([-1L, -1L, -1L], outputIds.Shape);
    }

    [Fact]
    public async Task ModelInfer_returns_prompt_and_new_tokens_with_their_length()
    {
        var response = await Client.InferAsync(Requests.Generate([5, 6, 7], 6));

        var ids = response.GetOutput<int>(C.OutputIds);
        Assert.Equal([1L, 1L, 9L], ids.Shape);
        Assert.Equal([5, 6, 7], ids.Data[..3]);
        Assert.All(ids.Data[3..], t => Assert.InRange(t, 0, TinyCheckpoint.VocabSize - 1));
        Assert.Equal([9], response.GetOutput<int>(C.SequenceLength).Data);
        Assert.Equal("r1", response.Id);
    }

    [Fact]
    public async Task Greedy_generation_is_the_same_each_time()
    {
        var first = await Client.InferAsync(Requests.Generate([5, 6, 7], 8, excludeInput: true));
        var second = await Client.InferAsync(Requests.Generate([5, 6, 7], 8, excludeInput: true));

        Assert.Equal(first.GetOutput<int>(C.OutputIds).Data, second.GetOutput<int>(C.OutputIds).Data);
    }

    [Fact]
    public async Task Min_length_holds_back_the_end_token_that_greedy_decoding_would_choose_first()
    {
        var first = (await Client.InferAsync(Requests.Generate([5, 9], 1, excludeInput: true))).GetOutput<int>(C.OutputIds).Data[0];

        var ended = (await Client.InferAsync(Requests.Generate([5, 9], 6, excludeInput: true, endId: first))).GetOutput<int>(C.OutputIds).Data;
        var held = (await Client.InferAsync(Requests.Generate([5, 9], 6, excludeInput: true, endId: first)
            .AddInput<int>(C.MinLength, [1, 1], [3]))).GetOutput<int>(C.OutputIds).Data;

        Assert.Empty(ended); // ends at once: the end token is not part of the output
        Assert.True(held.Length >= 3, $"{held.Length} tokens");
        Assert.DoesNotContain(first, held[..3]);
    }

    [Fact]
    public async Task An_embedding_bias_of_minus_100_keeps_the_greedy_choice_out_of_the_output()
    {
        var plain = (await Client.InferAsync(Requests.Generate([5, 9], 8, excludeInput: true))).GetOutput<int>(C.OutputIds).Data;
        var bias = new float[TinyCheckpoint.VocabSize];
        bias[plain[0]] = -100f;

        var biased = (await Client.InferAsync(Requests.Generate([5, 9], 8, excludeInput: true)
            .AddInput<float>(C.EmbeddingBias, [1, TinyCheckpoint.VocabSize], bias))).GetOutput<int>(C.OutputIds).Data;

        Assert.DoesNotContain(plain[0], biased);
        Assert.Equal(8, biased.Length);
    }

    [Fact]
    public async Task A_large_frequency_penalty_stops_greedy_decoding_from_repeating_a_token()
    {
        var plain = (await Client.InferAsync(Requests.Generate([5, 9], 30, excludeInput: true))).GetOutput<int>(C.OutputIds).Data;
        var penalized = (await Client.InferAsync(Requests.Generate([5, 9], 30, excludeInput: true)
            .AddInput<float>(C.FrequencyPenalty, [1, 1], [100f]))).GetOutput<int>(C.OutputIds).Data;

        Assert.True(plain.Distinct().Count() < plain.Length, "greedy decoding of the tiny model repeats itself");
        Assert.Equal(penalized.Length, penalized.Distinct().Count());
    }

    [Fact]
    public async Task Streamed_tokens_concatenate_to_the_unary_result_and_only_the_last_is_final()
    {
        var whole = (await Client.InferAsync(Requests.Generate([9, 3], 7, excludeInput: true))).GetOutput<int>(C.OutputIds).Data;

        var responses = new List<ModelInferResponse>();
        await foreach (var response in Client.StreamInferAsync(Requests.Generate([9, 3], 7, streaming: true)))
        {
            responses.Add(response);
        }

        Assert.Equal(7, responses.Count);
        Assert.Equal(whole, responses.Select(r => Assert.Single(r.GetOutput<int>(C.OutputIds).Data)));
        Assert.All(responses[..^1], r => Assert.False(r.IsFinalResponse()));
        Assert.True(responses[^1].IsFinalResponse());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stop_words_list_ends_the_sequence_after_its_tokens_whole_or_streamed(bool streaming)
    {
        var free = (await Client.InferAsync(Requests.Generate([5, 6, 7], 12, excludeInput: true))).GetOutput<int>(C.OutputIds).Data;
        // Two greedy tokens as the stop word, plus one that is never generated: the sequence ends where the pair first appears.
        int[] pair = [free[1], free[2]];
        var never = Enumerable.Range(0, TinyCheckpoint.VocabSize).First(t => !free.Contains(t));
        var end = Enumerable.Range(1, free.Length - 1).First(i => free[i - 1] == pair[0] && free[i] == pair[1]) + 1;
        var request = Requests.Generate([5, 6, 7], 12, excludeInput: true, streaming: streaming)
            .AddInput<int>(C.StopWordsList, [1, 2, 3], [never, pair[0], pair[1], 1, 3, -1]);

        var generated = new List<int>();
        await foreach (var response in Client.StreamInferAsync(request))
        {
            generated.AddRange(response.GetOutput<int>(C.OutputIds).Data);
        }

        // Generated tokens counted: the stop word's tokens stay in the output (as TensorRT-LLM's), nothing after them is generated.
        Assert.True(end < 12, $"the greedy text repeats no pair before the last token: {string.Join(",", free)}");
        Assert.Equal(free[..end], generated);
    }

    [Fact]
    public async Task Streamed_samples_carry_their_sequence_index()
    {
        var perSequence = new Dictionary<int, List<int>>();
        await foreach (var response in Client.StreamInferAsync(Requests.Generate([4, 4, 2], 5, samples: 3, streaming: true, topK: 0, seed: 42)))
        {
            var sequence = Assert.Single(response.GetOutput<int>(C.SequenceIndex).Data);
            Assert.Equal([1L, 1L, 1L], response.GetOutput<int>(C.OutputIds).Shape);
            (perSequence.TryGetValue(sequence, out var tokens) ? tokens : perSequence[sequence] = []).Add(response.GetOutput<int>(C.OutputIds).Data[0]);
        }

        Assert.Equal([0, 1, 2], perSequence.Keys.Order());
        Assert.All(perSequence.Values, tokens => Assert.Equal(5, tokens.Count));
    }

    [Fact]
    public async Task Seeded_sampling_streamed_and_unary_give_the_same_samples()
    {
        var unary = await Client.InferAsync(Requests.Generate([4, 4, 2], 5, samples: 2, excludeInput: true, topK: 0, seed: 7));
        var streamed = new[] { new List<int>(), new List<int>() };
        await foreach (var response in Client.StreamInferAsync(Requests.Generate([4, 4, 2], 5, samples: 2, streaming: true, topK: 0, seed: 7)))
        {
            streamed[response.GetOutput<int>(C.SequenceIndex).Data[0]].Add(response.GetOutput<int>(C.OutputIds).Data[0]);
        }

        var ids = unary.GetOutput<int>(C.OutputIds);
        Assert.Equal([1L, 2L, 5L], ids.Shape);
        Assert.Equal(ids.Data[..5], streamed[0]);
        Assert.Equal(ids.Data[5..], streamed[1]);
    }

    [Fact]
    public async Task Non_streaming_request_on_the_stream_gets_one_final_whole_response()
    {
        var responses = new List<ModelInferResponse>();
        await foreach (var response in Client.StreamInferAsync(Requests.Generate([5, 6], 4, samples: 2, topK: 0, seed: 3)))
        {
            responses.Add(response);
        }

        var only = Assert.Single(responses);
        Assert.True(only.IsFinalResponse());
        Assert.Equal([1L, 2L, 6L], only.GetOutput<int>(C.OutputIds).Shape);
    }

    [Fact]
    public async Task Requests_multiplexed_on_one_stream_each_get_their_own_responses()
    {
        await using var stream = Client.OpenStream();
        async Task<List<int>> Collect(string id, int[] prompt)
        {
            var tokens = new List<int>();
            await foreach (var response in stream.InferAsync(Requests.Generate(prompt, 6, streaming: true, id: id)))
            {
                Assert.Equal(id, response.Id);
                tokens.Add(response.GetOutput<int>(C.OutputIds).Data[0]);
            }
            return tokens;
        }

        var results = await Task.WhenAll(Collect("a", [5, 6, 7]), Collect("b", [8, 9]), Collect("c", [10]));
        var expectedB = (await Client.InferAsync(Requests.Generate([8, 9], 6, excludeInput: true))).GetOutput<int>(C.OutputIds).Data;

        Assert.All(results, tokens => Assert.Equal(6, tokens.Count));
        Assert.Equal(expectedB, results[1]);
    }

    [Fact]
    public async Task Bad_request_on_a_stream_fails_alone_with_its_status_and_the_stream_goes_on()
    {
        await using var stream = Client.OpenStream();
        var bad = Requests.Generate(new int[45], 10, streaming: true, id: "too-long");

        var error = await Assert.ThrowsAsync<TritonException>(async () =>
        {
            await foreach (var _ in stream.InferAsync(bad))
            {
            }
        });
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("context window", error.Message);

        var count = 0;
        await foreach (var _ in stream.InferAsync(Requests.Generate([5], 3, streaming: true, id: "fine")))
        {
            count++;
        }
        Assert.Equal(3, count);
    }

    [Fact]
    public async Task Refused_request_over_the_wire_carries_a_field_violation_naming_the_tensor()
    {
        // More samples than the scheduler's batch holds: refused by the scheduler, not by the tensor reader.
        var error = await Assert.ThrowsAsync<TritonException>(() => Client.InferAsync(Requests.Generate([5], 2, samples: 1000)));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith($"Input '{C.NumReturnSequences}': The number of sequences must be between 1 and", error.Status.Detail);
        var violation = Assert.Single(error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations);
        Assert.Equal(C.NumReturnSequences, violation.Field);
    }

    [Fact]
    public async Task Invalid_tensor_over_the_wire_is_INVALID_ARGUMENT_naming_it()
    {
        var request = Requests.Generate([5], 2, topK: null).AddInput<float>(C.RuntimeTopK, [1, 1], [1f]);

        var error = await Assert.ThrowsAsync<TritonException>(() => Client.InferAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("'runtime_top_k'", error.Status.Detail);
        Assert.Equal("ModelInfer", error.MethodName);
    }

    [Fact]
    public async Task Unknown_model_is_NOT_FOUND()
    {
        var request = Requests.Generate([5], 2);
        request.ModelName = "llama";

        var error = await Assert.ThrowsAsync<TritonException>(() => Client.InferAsync(request));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("'llama'", error.Message);
    }

    [Fact]
    public async Task Streaming_flag_on_ModelInfer_is_refused()
    {
        var error = await Assert.ThrowsAsync<TritonException>(() => Client.InferAsync(Requests.Generate([5], 2, streaming: true)));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("'streaming'", error.Message);
    }

    [Fact]
    public async Task Deadline_already_passed_is_DEADLINE_EXCEEDED()
    {
        var error = await Assert.ThrowsAsync<TritonException>(() => Client.InferAsync(Requests.Generate([5], 20), deadline: DateTime.UtcNow.AddMilliseconds(-1)));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task Typed_contents_are_accepted_like_raw_contents()
    {
        var raw = await Client.InferAsync(Requests.Generate([5, 6], 4, excludeInput: true));
        var typed = new ModelInferRequest { ModelName = "gptj", Id = "typed" };
        foreach (var (name, values) in new[] { (C.InputIds, new[] { 5, 6 }), (C.InputLengths, [2]), (C.RequestOutputLen, [4]), (C.EndId, [-1]), (C.RuntimeTopK, [1]) })
        {
            var tensor = new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = "INT32", Contents = new InferTensorContents() };
            tensor.Shape.Add([1, values.Length]);
            tensor.Contents.IntContents.Add(values);
            typed.Inputs.Add(tensor);
        }
        var exclude = new ModelInferRequest.Types.InferInputTensor { Name = C.ExcludeInputInOutput, Datatype = "BOOL", Shape = { 1, 1 }, Contents = new InferTensorContents { BoolContents = { true } } };
        typed.Inputs.Add(exclude);

        var response = await Client.InferAsync(typed);

        Assert.Equal(raw.GetOutput<int>(C.OutputIds).Data, response.GetOutput<int>(C.OutputIds).Data);
    }

    [Fact]
    public async Task Batch_rows_are_generated_independently_and_padded()
    {
        var request = new ModelInferRequest { ModelName = "gptj" }
            .AddInput<int>(C.InputIds, [2, 3], [5, 6, 7, 8, 9, 0])
            .AddInput<int>(C.InputLengths, [2, 1], [3, 2])
            .AddInput<int>(C.RequestOutputLen, [2, 1], [2, 4])
            .AddInput<int>(C.EndId, [2, 1], [-1, -1])
            .AddInput<int>(C.PadId, [2, 1], [0, 0])
            .AddInput<int>(C.RuntimeTopK, [2, 1], [1, 1]);
        var alone = (await Client.InferAsync(Requests.Generate([8, 9], 4))).GetOutput<int>(C.OutputIds).Data;

        var response = await Client.InferAsync(request);

        var ids = response.GetOutput<int>(C.OutputIds);
        Assert.Equal([2L, 1L, 6L], ids.Shape);
        Assert.Equal([5, 6], response.GetOutput<int>(C.SequenceLength).Data);
        Assert.Equal(0, ids[0, 0, 5]);
        Assert.Equal(alone, ids.Data[6..]);
    }

    [Fact]
    public async Task Cancelling_a_stream_ends_it_with_a_cancellation()
    {
        using var cancel = new CancellationTokenSource();
        var received = 0;

        var error = await Record.ExceptionAsync(async () =>
        {
            await foreach (var _ in Client.StreamInferAsync(Requests.Generate([5], 40, streaming: true), cancellationToken: cancel.Token))
            {
                if (++received == 2)
                {
                    await cancel.CancelAsync();
                }
            }
        });

        Assert.True(error is OperationCanceledException || error is TritonException { StatusCode: StatusCode.Cancelled }, $"unexpected {error}");
        Assert.InRange(received, 2, 39);
    }

    [Fact]
    public async Task Client_calls_are_traced_with_the_model_and_request_id()
    {
        var spans = new List<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == TritonTelemetry.ActivitySourceName,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { lock (spans) { spans.Add(activity); } },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        var request = Requests.Generate([5], 2, id: "traced-1");

        await Client.InferAsync(request);

        System.Diagnostics.Activity span;
        lock (spans)
        {
            span = Assert.Single(spans, s => (string?)s.GetTagItem("triton.request_id") == "traced-1");
        }
        Assert.Equal("triton ModelInfer gptj", span.DisplayName);
        Assert.Equal("gptj", span.GetTagItem("triton.model"));
    }

    [Fact]
    public async Task Log_probs_on_request_are_per_token_and_cumulative()
    {
        var request = Requests.Generate([5, 6], 4, samples: 2, topK: 0, seed: 11).AddInput<bool>(C.ReturnLogProbs, [1, 1], [true]);

        var response = await Client.InferAsync(request);

        var each = response.GetOutput<float>(C.OutputLogProbs);
        var cumulative = response.GetOutput<float>(C.CumLogProbs);
        Assert.Equal([1L, 2L, 4L], each.Shape);
        Assert.All(each.Data, p => Assert.InRange(p, float.NegativeInfinity, 0f));
        Assert.Equal(each.Data[..4].Sum(), cumulative[0, 0], 4);
        Assert.Equal(each.Data[4..].Sum(), cumulative[0, 1], 4);
        Assert.Null(new ModelInferResponse().FindOutput<float>(C.CumLogProbs));
        Assert.Null((await Client.InferAsync(Requests.Generate([5, 6], 4))).FindOutput<float>(C.CumLogProbs));
    }

    [Fact]
    public async Task End_id_token_ends_a_sequence_without_being_returned()
    {
        var first = (await Client.InferAsync(Requests.Generate([5, 6], 3, excludeInput: true))).GetOutput<int>(C.OutputIds).Data[0];

        var unary = await Client.InferAsync(Requests.Generate([5, 6], 3, endId: first));
        var streamed = new List<ModelInferResponse>();
        await foreach (var response in Client.StreamInferAsync(Requests.Generate([5, 6], 3, streaming: true, endId: first)))
        {
            streamed.Add(response);
        }

        Assert.Equal([5, 6], unary.GetOutput<int>(C.OutputIds).Data);
        Assert.Equal([2], unary.GetOutput<int>(C.SequenceLength).Data);
        Assert.Empty(streamed);
    }
}
