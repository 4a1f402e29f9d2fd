using System.Net;
using GptjAspire.AppHost.Tests.Running;

namespace GptjAspire.AppHost.Tests.Api;

[Collection(AppCollection.Name)]
public sealed class PublicApiTests(GptjApp system)
{
    const string Prompt = "Xin chào Việt Nam, hôm nay trời đẹp";

    async Task<Dictionary<int, (string Text, string? Finish)>> CompleteAsync(string body)
    {
        using var response = await system.Gateway.PostAsync("/v1/completions", Json.Body(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Json.Choices(await response.ReadJsonAsync());
    }

    async Task<(List<(string? Event, string Data)> Events, Dictionary<int, (string Text, string? Finish)> Choices)> StreamAsync(string body)
    {
        using var response = await system.Gateway.PostAsync("/v1/completions", Json.Body(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = Sse.Events(await response.Content.ReadAsByteArrayAsync());
        return (events, Sse.Choices(events));
    }

    [Fact]
    public async Task Predict_with_vietnamese_text_returns_n_samples_texts_that_start_with_the_prompt()
    {
        using var response = await system.Gateway.PostAsync("/predict", Json.Body($$"""{"text": "{{Prompt}}", "n_samples": 4}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var texts = (await response.ReadJsonAsync()).GetProperty("generated_texts").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.Equal(4, texts.Count);
        Assert.All(texts, text => Assert.StartsWith(Prompt, text));
        Assert.Contains(texts, text => text.Length > Prompt.Length);
    }

    [Fact]
    public async Task Predict_with_defaults_returns_ten_samples()
    {
        using var response = await system.Gateway.PostAsync("/predict", Json.Body("""{"text": "Hà Nội"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(10, (await response.ReadJsonAsync()).GetProperty("generated_texts").GetArrayLength());
    }

    [Fact]
    public async Task Streaming_and_non_streaming_completions_give_the_same_text_for_the_same_seed()
    {
        const string request = $$"""{"prompt": "{{Prompt}}", "max_tokens": 24, "n": 3, "seed": 1234, "top_k": 0, "temperature": 1.0""";

        var whole = await CompleteAsync(request + "}");
        var (events, streamed) = await StreamAsync(request + """, "stream": true}""");

        Assert.Equal("[DONE]", events[^1].Data);
        Assert.Equal(3, whole.Count);
        Assert.Equal(whole, streamed);
        Assert.Contains(whole.Values, choice => choice.Text.Length > 0);
    }

    [Fact]
    public async Task A_logit_bias_of_minus_100_on_the_greedy_first_token_changes_the_greedy_completion()
    {
        const string greedy = """{"prompt": "Hà Nội", "max_tokens": 6, "temperature": 0""";
        var plain = (await CompleteAsync(greedy + "}"))[0].Text;
        using var tokenized = await system.Gateway.PostAsync("/tokenize", Json.Body($$"""{"prompt": {{System.Text.Json.JsonSerializer.Serialize(plain)}}}"""));
        var first = (await tokenized.ReadJsonAsync()).GetProperty("tokens")[0].GetInt32();

        var biased = (await CompleteAsync(greedy + $$$""", "logit_bias": {"{{{first}}}": -100}}"""))[0].Text;

        Assert.NotEqual(plain, biased);
    }

    [Fact]
    public async Task Tokenize_gives_the_models_ids_and_detokenize_their_text()
    {
        var expected = GptjAspire.Tokenizer.BpeTokenizer.FromDirectory(GptjApp.DemoModelPath).Encode(Prompt); // the model this app serves

        using var tokenized = await system.Gateway.PostAsync("/tokenize", Json.Body($$"""{"prompt": "{{Prompt}}"}"""));
        var ids = (await tokenized.ReadJsonAsync()).GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        using var detokenized = await system.Gateway.PostAsync("/detokenize", Json.Body($$"""{"tokens": [{{string.Join(", ", ids)}}]}"""));

        Assert.Equal(expected, ids);
        Assert.Equal(Prompt, (await detokenized.ReadJsonAsync()).GetProperty("prompt").GetString());
    }

    [Fact]
    public async Task A_prompt_given_as_its_token_ids_gives_the_completion_and_echo_of_the_text_prompt()
    {
        var ids = GptjAspire.Tokenizer.BpeTokenizer.FromDirectory(GptjApp.DemoModelPath).Encode(Prompt); // the model this app serves
        const string options = """, "max_tokens": 12, "n": 2, "seed": 77, "echo": true}""";

        var fromText = await CompleteAsync($$"""{"prompt": "{{Prompt}}" """ + options);
        var fromIds = await CompleteAsync($$"""{"prompt": [{{string.Join(", ", ids)}}]""" + options);

        Assert.Equal(fromText, fromIds);
        Assert.All(fromIds.Values, choice => Assert.StartsWith(Prompt, choice.Text));
    }

    [Fact]
    public async Task Every_streamed_event_is_valid_utf8_and_the_pieces_concatenate_to_the_final_text()
    {
        const string request = $$"""{"prompt": "{{Prompt}}", "max_tokens": 48, "n": 2, "seed": 99, "echo": true""";

        // Sse.Events decodes each event's bytes strictly: a piece ending inside a UTF-8 sequence throws there.
        var (events, streamed) = await StreamAsync(request + """, "stream": true}""");
        var whole = await CompleteAsync(request + "}");

        Assert.True(events.Count > 4, $"expected one event per piece, got {events.Count}");
        Assert.Equal(whole, streamed);
        Assert.All(streamed.Values, choice => Assert.StartsWith(Prompt, choice.Text));
    }

    [Fact]
    public async Task Stop_sequence_ends_the_completion_where_it_first_appears()
    {
        const string request = """{"prompt": "Một hai ba", "max_tokens": 40, "seed": 5""";
        var (free, _) = (await CompleteAsync(request + "}"))[0];
        Assert.True(free.Length >= 8, $"the model produced too little text to cut: '{free}'");
        var stop = free.Substring(free.Length / 2, 2);
        var expected = free[..free.IndexOf(stop, StringComparison.Ordinal)];
        var withStop = $$""", "stop": [{{System.Text.Json.JsonSerializer.Serialize(stop)}}]""";

        var whole = (await CompleteAsync(request + withStop + "}"))[0];
        var (_, streamed) = await StreamAsync(request + withStop + """, "stream": true}""");

        Assert.Equal((expected, "stop"), whole);
        Assert.Equal((expected, "stop"), streamed[0]);
    }

    [Theory]
    [InlineData("1e-40")] // a float32 subnormal
    [InlineData("1e-50")] // zero as float32
    [InlineData("0.000001")]
    public async Task Temperature_too_small_to_divide_by_gives_the_greedy_text(string temperature)
    {
        const string request = $$"""{"prompt": "{{Prompt}}", "max_tokens": 12, "top_k": 0, "temperature": """;

        var greedy = await CompleteAsync(request + "0}");
        var tiny = await CompleteAsync(request + temperature + """, "seed": 5}""");
        var (_, streamed) = await StreamAsync(request + temperature + """, "seed": 6, "stream": true}""");

        Assert.Equal(greedy, tiny);
        Assert.Equal(greedy, streamed);
        Assert.NotEqual("", greedy[0].Text);
    }

    [Fact]
    public async Task Completion_reports_usage_and_length_finish()
    {
        using var response = await system.Gateway.PostAsync("/v1/completions",
            Json.Body("""{"prompt": "Hà Nội", "max_tokens": 5, "n": 2, "seed": 3}"""));

        var body = await response.ReadJsonAsync();
        var usage = body.GetProperty("usage");
        var promptTokens = usage.GetProperty("prompt_tokens").GetInt32();
        var completionTokens = usage.GetProperty("completion_tokens").GetInt32();
        Assert.InRange(promptTokens, 1, "Hà Nội"u8.Length);
        Assert.InRange(completionTokens, 0, 10);
        Assert.Equal(promptTokens + completionTokens, usage.GetProperty("total_tokens").GetInt32());
        Assert.All(Json.Choices(body).Values, c => Assert.Contains(c.Finish, new[] { "length", "stop" }));
    }

    [Fact]
    public async Task Models_lists_the_served_model()
    {
        using var response = await system.Gateway.GetAsync("/v1/models");

        var model = Assert.Single((await response.ReadJsonAsync()).GetProperty("data").EnumerateArray());
        Assert.Equal("gptj", model.GetProperty("id").GetString());
        Assert.Equal(512, model.GetProperty("context_length").GetInt32());
    }
}
