using System.Net;
using System.Text.Json;
using GptjAspire.Gptj.V1;
using Grpc.Core;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

public sealed class CompletionsTests
{
    [Fact]
    public async Task Completion_maps_openai_parameters_onto_the_preprocessor_request()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions", Json("""
            {"model": "gptj", "prompt": "Việt Nam", "max_tokens": 7, "temperature": 0.7, "top_p": 0.8, "n": 2,
             "stop": ["\n", "."], "seed": 42, "echo": true, "top_k": 40, "repetition_penalty": 1.2, "user": "x"}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal(("Việt Nam", 7, 2, true), (sent.Prompt, sent.MaxNewTokens, sent.N, sent.Echo));
        Assert.Equal(["\n", "."], sent.Stop);
        Assert.Equal((40, 0.8f, 0.7f, 1.2f, 42UL),
            (sent.Sampling.TopK, sent.Sampling.TopP, sent.Sampling.Temperature, sent.Sampling.RepetitionPenalty, sent.Sampling.Seed));
        var body = await response.ReadJsonAsync();
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal("gptj", body.GetProperty("model").GetString());
        var choices = body.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal("Việt Nam mẫu 1", choices[1].GetProperty("text").GetString());
        Assert.Equal("length", choices[0].GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choices[0].GetProperty("logprobs").ValueKind);
        var usage = body.GetProperty("usage");
        Assert.Equal((3, 4, 7), (usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32()));
    }

    [Fact]
    public async Task Prompt_array_numbers_choices_by_prompt_then_sample_and_sums_usage()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": ["một", "hai"], "n": 2, "echo": true}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        var choices = body.GetProperty("choices").EnumerateArray().Select(c => (c.GetProperty("index").GetInt32(), c.GetProperty("text").GetString())).ToList();
        Assert.Equal([(0, "một mẫu 0"), (1, "một mẫu 1"), (2, "hai mẫu 0"), (3, "hai mẫu 1")], choices);
        Assert.Equal(8, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(["hai", "một"], host.Preprocessor.Requests.Select(r => r.Prompt).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_completion_id_is_the_request_id_the_preprocessor_and_backend_log()
    {
        await using var host = await GatewayHost.StartAsync();

        using var whole = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "một"}"""));
        var wholeId = (await whole.ReadJsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal(wholeId, Assert.Single(host.Preprocessor.Requests).RequestId);
        host.Preprocessor.Requests.Clear();

        using var streamed = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": ["một", "hai"], "stream": true}"""));
        var events = ParseEvents(await streamed.Content.ReadAsStringAsync());
        var streamedId = Assert.Single(events.SkipLast(1).Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("id").GetString()).Distinct())!;

        Assert.NotEqual(wholeId, streamedId);
        Assert.Equal([$"{streamedId}-0", $"{streamedId}-1"], host.Preprocessor.Requests.Select(r => r.RequestId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_exactly_integral_number_is_an_integer_in_every_integer_field()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions",
            Json("""{"prompt": [5.0, 6e0, 70e-1], "seed": 7.0, "n": 2.0, "max_tokens": 4.0, "top_k": 4e1, "min_tokens": 1.0}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal([5, 6, 7], sent.PromptIds);
        Assert.Equal((7UL, 2, 4, 40, 1), (sent.Sampling.Seed, sent.N, sent.MaxNewTokens, sent.Sampling.TopK, sent.MinNewTokens));
    }

    [Fact]
    public async Task Penalties_min_tokens_and_logit_bias_go_to_the_preprocessor_and_neutral_values_are_left_unset()
    {
        await using var host = await GatewayHost.StartAsync();

        using var penalized = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a", "presence_penalty": 0.5, "frequency_penalty": -1.5, "min_tokens": 4, "logit_bias": {"50256": -100, "7": 2.5}}"""));
        using var neutral = await host.Client.PostAsync("/v1/chat/completions", Json("""{"messages": [{"role": "user", "content": "b"}], "presence_penalty": 0}"""));

        Assert.Equal(HttpStatusCode.OK, penalized.StatusCode);
        Assert.Equal(HttpStatusCode.OK, neutral.StatusCode);
        var sent = host.Preprocessor.Requests.Single(r => r.Prompt == "a");
        Assert.Equal((0.5f, -1.5f, 4), (sent.Sampling.PresencePenalty, sent.Sampling.FrequencyPenalty, sent.MinNewTokens));
        Assert.Equal(new Dictionary<int, float> { [50256] = -100f, [7] = 2.5f }, sent.Sampling.LogitBias);
        var chat = host.Preprocessor.Requests.Single(r => r.Prompt != "a");
        Assert.False(chat.Sampling.HasPresencePenalty || chat.Sampling.HasFrequencyPenalty || chat.HasMinNewTokens || chat.Sampling.LogitBias.Count > 0);
    }

    [Fact]
    public async Task Token_id_prompts_go_to_the_preprocessor_as_prompt_ids_one_call_per_prompt()
    {
        await using var host = await GatewayHost.StartAsync();

        using var single = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": [5, 6, 7]}"""));
        using var several = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": [[8], [9, 10]], "n": 2}"""));

        Assert.Equal(HttpStatusCode.OK, single.StatusCode);
        Assert.Equal(4, (await several.ReadJsonAsync()).GetProperty("choices").GetArrayLength());
        Assert.All(host.Preprocessor.Requests, r => Assert.Equal("", r.Prompt));
        Assert.Equal([[5, 6, 7], [8], [9, 10]], host.Preprocessor.Requests.Select(r => r.PromptIds.ToArray()).OrderBy(ids => ids[0]));
    }

    [Fact]
    public async Task Stream_sends_a_chunk_per_delta_then_finish_reasons_then_done()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions",
            Json("""{"prompt": "Xin chào", "n": 2, "stream": true, "stream_options": {"include_usage": true}}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        Assert.Equal("[DONE]", events[^1].Data);
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e.Data).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        string TextOf(int index) => string.Concat(chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray())
            .Where(ch => ch.GetProperty("index").GetInt32() == index).Select(ch => ch.GetProperty("text").GetString()));
        Assert.Equal(" Việt Nam", TextOf(0));
        Assert.Equal(" Việt Nam", TextOf(1));
        var finishes = chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray())
            .Where(ch => ch.GetProperty("finish_reason").ValueKind == JsonValueKind.String).Select(ch => ch.GetProperty("finish_reason").GetString());
        Assert.Equal(["stop", "stop"], finishes);
        Assert.Equal(7, chunks[^1].GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Stream_failure_after_the_first_delta_is_an_error_event_without_done()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Stream = _ => [new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.Failure = new RpcException(new Status(StatusCode.Unavailable, "backend connection lost"));

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a", "stream": true}"""));

        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        Assert.Equal(2, events.Count);
        Assert.Equal("error", events[1].Event);
        var error = JsonDocument.Parse(events[1].Data).RootElement.GetProperty("error");
        Assert.Equal("The model is not available right now; retry later.", error.GetProperty("message").GetString());
        Assert.Equal("unavailable", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Stream_rejected_before_any_delta_is_a_plain_http_error()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Stream = _ => [];
        host.Preprocessor.Failure = PreprocessorFailures.Invalid("max_new_tokens", "The prompt (10 tokens) plus 2040 new tokens exceeds the model's context of 2048 tokens.");

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a", "stream": true, "max_tokens": 2040}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal("max_tokens", error.GetProperty("param").GetString());
        Assert.Equal("The prompt (10 tokens) plus 2040 new tokens exceeds the model's context of 2048 tokens.", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Stream_of_several_prompts_is_a_plain_http_error_when_a_later_prompt_is_refused_after_another_streamed()
    {
        await using var host = await GatewayHost.StartAsync();
        var whole = host.Preprocessor.Stream;
        // Prompt 0 streams all of its text at once; prompt 1 is refused a moment later.
        host.Preprocessor.Stream = request => request.Prompt == "a" ? whole(request) : RefusedAfter(TimeSpan.FromMilliseconds(300),
            PreprocessorFailures.Invalid("prompt", "The prompt is 4000 tokens; the model's context is 2048 tokens, which leaves no room for new tokens.", "CONTEXT_LENGTH_EXCEEDED"));

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": ["a", "far too long"], "max_tokens": 20, "stream": true}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal(("context_length_exceeded", "prompt[1]"), (error.GetProperty("code").GetString(), error.GetProperty("param").GetString()));
        Assert.Equal(2, host.Preprocessor.Requests.Count);
    }

    static IEnumerable<GenerateStreamResponse> RefusedAfter(TimeSpan delay, RpcException refusal)
    {
        Thread.Sleep(delay);
        throw refusal;
    }

    [Theory]
    [InlineData("""{"prompt": [[5], [999999]]}""", "prompt[1]")]
    [InlineData("""{"prompt": [[5], [999999]], "stream": true}""", "prompt[1]")]
    [InlineData("""{"prompt": [999999]}""", "prompt")]
    public async Task Preprocessor_refusal_of_one_prompt_of_several_names_that_prompt(string body, string param)
    {
        await using var host = await GatewayHost.StartAsync();
        var refusal = PreprocessorFailures.Invalid("prompt_ids", "Token id 999999 at position 0 is outside the vocabulary of 50400 tokens.");
        var whole = host.Preprocessor.Generate;
        var streamed = host.Preprocessor.Stream;
        host.Preprocessor.Generate = request => request.PromptIds.Contains(999999) ? throw refusal : whole(request);
        host.Preprocessor.Stream = request => request.PromptIds.Contains(999999) ? throw refusal : streamed(request);

        using var response = await host.Client.PostAsync("/v1/completions", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal("Token id 999999 at position 0 is outside the vocabulary of 50400 tokens.", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Client_that_disconnects_mid_stream_cancels_the_preprocessor_call()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Stream = _ => [new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.HangAfterStream = true;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json("""{"prompt": "a", "stream": true}""") };

        using (var response = await host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync());
        }

        await host.Preprocessor.StreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData(StatusCode.ResourceExhausted, HttpStatusCode.TooManyRequests, true)]
    [InlineData(StatusCode.Unavailable, HttpStatusCode.ServiceUnavailable, true)]
    [InlineData(StatusCode.DeadlineExceeded, HttpStatusCode.GatewayTimeout, false)]
    [InlineData(StatusCode.Internal, HttpStatusCode.BadGateway, false)]
    public async Task Preprocessor_status_maps_to_one_http_status(StatusCode status, HttpStatusCode expected, bool retryAfter)
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Failure = new RpcException(new Status(status, "because"));

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a"}"""));

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(retryAfter, response.Headers.RetryAfter is not null);
        Assert.True((await response.ReadJsonAsync()).GetProperty("error").TryGetProperty("message", out _));
    }

    [Theory]
    [InlineData("""{"max_tokens": 5}""", "prompt", "'prompt' is required.")]
    [InlineData("""{"prompt": ""}""", "prompt", "The prompt must not be empty.")]
    [InlineData("""{"prompt": []}""", "prompt", "'prompt' must not be an empty array.")]
    [InlineData("""{"prompt": ["a", 2]}""", "prompt", "'prompt[1]' must be a string, not a number.")]
    [InlineData("""{"prompt": {"a": 1}}""", "prompt", "'prompt' must be a string, an array of strings, an array of token ids or an array of token-id arrays, not an object.")]
    [InlineData("""{"prompt": [5, -1]}""", "prompt", "'prompt[1]' must be a token id (an integer from 0), not -1.")]
    [InlineData("""{"prompt": [5, 2.5]}""", "prompt", "'prompt[1]' must be a token id (an integer from 0), not 2.5.")]
    [InlineData("""{"prompt": [5, "a"]}""", "prompt", "'prompt[1]' must be a token id (an integer from 0), not a string.")]
    [InlineData("""{"prompt": [[5], 6]}""", "prompt", "'prompt[1]' must be an array of token ids like the prompts before it, not a number.")]
    [InlineData("""{"prompt": [[5], [6, 4294967296]]}""", "prompt", "'prompt[1][1]' must be a token id (an integer from 0), not 4294967296.")]
    [InlineData("""{"prompt": [[5], []]}""", "prompt[1]", "The prompt must not be empty.")]
    [InlineData("""{"prompt": "a", "max_tokens": 0}""", "max_tokens", "'max_tokens' must be between 1 and 2047; got 0.")]
    [InlineData("""{"prompt": "a", "max_tokens": "10"}""", "max_tokens", "'max_tokens' must be an integer, not a string.")]
    [InlineData("""{"prompt": "a", "temperature": 2.5}""", "temperature", "'temperature' must be at least 0 and at most 2; got 2.5.")]
    [InlineData("""{"prompt": "a", "temperature": -1}""", "temperature", "'temperature' must be at least 0 and at most 2; got -1.")]
    [InlineData("""{"prompt": "a", "top_p": 0}""", "top_p", "'top_p' must be greater than 0 and at most 1; got 0.")]
    [InlineData("""{"prompt": "a", "n": 0}""", "n", "'n' must be between 1 and 16; got 0.")]
    [InlineData("""{"prompt": "a", "stop": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q"]}""", "stop", "'stop' may hold at most 16 sequences; got 17.")]
    [InlineData("""{"prompt": "a", "stop": [""]}""", "stop", "Stop sequences must not be empty strings.")]
    [InlineData("""{"prompt": "a", "stop": 3}""", "stop", "'stop' must be a string or an array of strings, not a number.")]
    [InlineData("""{"prompt": "a", "seed": -1}""", "seed", "'seed' must be an integer from 0 to 18446744073709551615; got -1.")]
    [InlineData("""{"prompt": "a", "seed": "x"}""", "seed", "'seed' must be a non-negative integer, not a string.")]
    [InlineData("""{"prompt": "a", "stream": "yes"}""", "stream", "'stream' must be a boolean, not a string.")]
    [InlineData("""{"prompt": "a", "echo": 1}""", "echo", "'echo' must be a boolean, not a number.")]
    [InlineData("""{"prompt": "a", "top_k": -2}""", "top_k", "'top_k' must be at least 0; got -2.")]
    [InlineData("""{"prompt": "a", "repetition_penalty": 0}""", "repetition_penalty", "'repetition_penalty' must be greater than 0 and at most 100; got 0.")]
    [InlineData("""{"prompt": "a", "logprobs": 5}""", "logprobs", "'logprobs' is not supported by this server (only 0 is accepted); got 5.")]
    [InlineData("""{"prompt": "a", "best_of": 3}""", "best_of", "'best_of' is not supported by this server (only 1 is accepted); got 3.")]
    [InlineData("""{"prompt": "a", "presence_penalty": 2.5}""", "presence_penalty", "'presence_penalty' must be at least -2 and at most 2; got 2.5.")]
    [InlineData("""{"prompt": "a", "max_tokens": 8, "min_tokens": 9}""", "min_tokens", "'min_tokens' must be between 0 and 8; got 9.")]
    [InlineData("""{"prompt": "a", "frequency_penalty": "1"}""", "frequency_penalty", "'frequency_penalty' must be a number, not a string.")]
    [InlineData("""{"prompt": "a", "stream_options": {"include_usage": true}}""", "stream_options", "'stream_options' is only allowed when 'stream' is true.")]
    [InlineData("""{"prompt": "a", "temprature": 1}""", "temprature", "Unrecognized request field 'temprature'.")]
    [InlineData("""{"prompt": "a", "stream": true, "stream_options": {"foo": 1}}""", "stream_options.foo", "Unrecognized request field 'stream_options.foo'.")]
    [InlineData("""{"prompt": "a", "stream": true, "stream_options": {"include_usage": "yes"}}""", "stream_options.include_usage",
        "'stream_options.include_usage' must be a boolean, not a string.")]
    // Integers out of range, however large, say the range; numbers with a fraction are not integers.
    [InlineData("""{"prompt": "a", "top_k": 1e20}""", "top_k", "'top_k' must be between 0 and 2147483647; got 1e20.")]
    [InlineData("""{"prompt": "a", "max_tokens": 9223372036854775808}""", "max_tokens", "'max_tokens' must be between 1 and 2047; got 9223372036854775808.")]
    [InlineData("""{"prompt": "a", "n": 1e400}""", "n", "'n' must be between 1 and 16; got 1e400.")]
    [InlineData("""{"prompt": "a", "n": -1e300}""", "n", "'n' must be between 1 and 16; got -1e300.")]
    [InlineData("""{"prompt": "a", "n": 2.5}""", "n", "'n' must be an integer; got 2.5.")]
    [InlineData("""{"prompt": "a", "seed": 1.5}""", "seed", "'seed' must be an integer from 0 to 18446744073709551615; got 1.5.")]
    [InlineData("""{"prompt": "a", "seed": 18446744073709551616}""", "seed", "'seed' must be an integer from 0 to 18446744073709551615; got 18446744073709551616.")]
    public async Task Completion_rejects_a_bad_field_with_400_naming_it(string body, string param, string message)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(message, error.GetProperty("message").GetString());
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Theory]
    [InlineData("""{"prompt": "a", "best_of": 1, "presence_penalty": 0, "frequency_penalty": 0.0, "logit_bias": {}, "logprobs": null}""")]
    // Any spelling of the neutral number: Python clients send floats, some serializers exponents.
    [InlineData("""{"prompt": "a", "best_of": 1.0, "presence_penalty": -0.0, "frequency_penalty": 0e0, "logprobs": 0.0}""")]
    public async Task Neutral_values_of_unsupported_openai_parameters_are_accepted(string body)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions", Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Unknown_model_is_404_model_not_found()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"model": "gpt-4", "prompt": "a"}"""));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("model_not_found", (await response.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Models_lists_the_served_model_with_its_context_length()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.GetAsync("/v1/models");

        var model = Assert.Single((await response.ReadJsonAsync()).GetProperty("data").EnumerateArray());
        Assert.Equal("gptj", model.GetProperty("id").GetString());
        Assert.Equal(2048, model.GetProperty("context_length").GetInt32());
    }

    [Fact]
    public async Task Models_retrieves_the_served_model_by_name_and_any_other_name_is_model_not_found()
    {
        await using var host = await GatewayHost.StartAsync();

        using var served = await host.Client.GetAsync("/v1/models/gptj");
        using var other = await host.Client.GetAsync("/v1/models/gpt-4");

        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        var model = await served.ReadJsonAsync();
        Assert.Equal("gptj", model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal(2048, model.GetProperty("context_length").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        var error = (await other.ReadJsonAsync()).GetProperty("error");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Openapi_document_describes_the_public_endpoints()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var paths = (await response.ReadJsonAsync()).GetProperty("paths");
        foreach (var path in new[] { "/predict", "/healthz", "/v1/completions", "/v1/models", "/v1/models/{model}" })
            Assert.True(paths.TryGetProperty(path, out _), path);
    }

    [Fact]
    public async Task A_completion_larger_than_grpcs_default_message_limit_is_answered_whole()
    {
        // 5 MB of text: past the 4 MB a gRPC client reads by default, within what the Preprocessor may send. It was a 429.
        await using var host = await GatewayHost.StartAsync();
        var text = new string('a', 5 * 1024 * 1024);
        host.Preprocessor.Generate = _ => new GenerateResponse
        {
            Model = "gptj",
            Usage = new Usage { PromptTokens = 1, CompletionTokens = 1 },
            Completions = { new Completion { Text = text, FinishReason = FinishReason.Length, CompletionTokens = 1 } },
        };

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a", "max_tokens": 1}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(text, (await response.ReadJsonAsync()).GetProperty("choices")[0].GetProperty("text").GetString());
    }
}

public sealed class AdmissionTests
{
    [Fact]
    public async Task Request_beyond_the_queue_is_429_with_retry_after_while_generations_hold_every_slot()
    {
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:Admission:MaxConcurrentRequests"] = "1", ["Gateway:Admission:MaxQueuedRequests"] = "0" });
        host.Preprocessor.Stream = _ => [new Gptj.V1.GenerateStreamResponse { Delta = new Gptj.V1.TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.HangAfterStream = true;
        using var first = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Http.Json("""{"prompt": "a", "stream": true}""") };
        using var holding = await host.Client.SendAsync(first, HttpCompletionOption.ResponseHeadersRead);

        using var rejected = await host.Client.PostAsync("/predict", Http.Json("""{"text": "b"}"""));

        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), rejected.Headers.RetryAfter?.Delta);
        Assert.Equal("overloaded", (await rejected.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
    }
}
