using System.Net;
using System.Text.Json;
using GptjAspire.Gateway.Chat;
using GptjAspire.Gptj.V1;
using Grpc.Core;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

public sealed class ChatCompletionsTests
{
    [Fact]
    public async Task Messages_become_the_documented_transcript_with_the_user_turn_as_a_stop()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/chat/completions", Json("""
            {"model": "gptj", "messages": [
               {"role": "system", "content": "Bạn là trợ lý."},
               {"role": "user", "content": "Xin chào"},
               {"role": "assistant", "content": "Chào bạn!"},
               {"role": "user", "content": [{"type": "text", "text": "Hà Nội "}, {"type": "text", "text": "ở đâu?"}], "name": "an"}],
             "max_completion_tokens": 9, "temperature": 0.5, "top_p": 0.9, "n": 2, "stop": "."}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal("Bạn là trợ lý.\n\nUser: Xin chào\nAssistant: Chào bạn!\nUser: Hà Nội ở đâu?\nAssistant:", sent.Prompt);
        Assert.Equal([".", "\nUser:"], sent.Stop);
        Assert.Equal((9, 2, false, 0.5f, 0.9f), (sent.MaxNewTokens, sent.N, sent.Echo, sent.Sampling.Temperature, sent.Sampling.TopP));
        var body = await response.ReadJsonAsync();
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        var choices = body.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal("assistant", choices[1].GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(" mẫu 1", choices[1].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("length", choices[0].GetProperty("finish_reason").GetString());
        Assert.Equal(7, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Deprecated_max_tokens_and_seed_reach_the_preprocessor()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/chat/completions",
            Json("""{"messages": [{"role": "user", "content": "a"}], "max_tokens": 3, "seed": 7}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal((3, 7UL), (sent.MaxNewTokens, sent.Sampling.Seed));
    }

    [Fact]
    public async Task Stream_gives_the_role_in_each_choices_first_delta_then_text_then_finish_then_usage_then_done()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/chat/completions", Json("""
            {"messages": [{"role": "user", "content": "Xin chào"}], "n": 2, "stream": true, "stream_options": {"include_usage": true}}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        Assert.Equal("[DONE]", events[^1].Data);
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e.Data).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        foreach (var index in new[] { 0, 1 })
        {
            var mine = chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()).Where(ch => ch.GetProperty("index").GetInt32() == index).ToList();
            Assert.Equal("assistant", mine[0].GetProperty("delta").GetProperty("role").GetString());
            Assert.All(mine.Skip(1), ch => Assert.False(ch.GetProperty("delta").TryGetProperty("role", out _)));
            Assert.Equal(" Việt Nam", string.Concat(mine.Select(ch => ch.GetProperty("delta").TryGetProperty("content", out var text) ? text.GetString() : "")));
            Assert.Equal("stop", mine[^1].GetProperty("finish_reason").GetString());
            Assert.False(mine[^1].GetProperty("delta").TryGetProperty("content", out _));
        }
        Assert.Empty(chunks[^1].GetProperty("choices").EnumerateArray());
        Assert.Equal(7, chunks[^1].GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Theory]
    [InlineData("""{"max_tokens": 5}""", "messages", "'messages' is required.")]
    [InlineData("""{"messages": "hi"}""", "messages", "'messages' must be an array of messages, not a string.")]
    [InlineData("""{"messages": []}""", "messages", "'messages' must hold at least one message.")]
    [InlineData("""{"messages": [7]}""", "messages[0]", "'messages[0]' must be a message object, not a number.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 3}]}""", "messages[1].content",
        "'messages[1].content' must be a string or an array of text parts, not a number.")]
    [InlineData("""{"messages": [{"role": "user"}]}""", "messages[0].content", "'messages[0].content' is required.")]
    [InlineData("""{"messages": [{"content": "a"}]}""", "messages[0].role", "'messages[0].role' is required.")]
    [InlineData("""{"messages": [{"role": "tool", "content": "a"}]}""", "messages[0].role",
        "'messages[0].role' must be one of system, developer, user, assistant; got 'tool'.")]
    [InlineData("""{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}""", "messages[0].content[0].type",
        "'messages[0].content[0].type' must be \"text\": GPT-J reads text only.")]
    [InlineData("""{"messages": [{"role": "user", "content": "x", "name": 5}]}""", "messages[0].name", "'messages[0].name' must be a string, not a number.")]
    [InlineData("""{"messages": [{"role": "user", "content": null}]}""", "messages[0].content", "'messages[0].content' is required.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a", "tool_calls": []}]}""", "messages[0].tool_calls",
        "'messages[0].tool_calls' is not supported by this server (messages hold role, content and name).")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "max_completion_tokens": 0}""", "max_completion_tokens",
        "'max_completion_tokens' must be between 1 and 2047; got 0.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "max_tokens": 0}""", "max_tokens", "'max_tokens' must be between 1 and 2047; got 0.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "max_tokens": 2, "max_completion_tokens": 2}""", "max_tokens",
        "Give 'max_completion_tokens' or its older name 'max_tokens', not both.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "temperature": 2.5}""", "temperature", "'temperature' must be at least 0 and at most 2; got 2.5.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "top_p": 0}""", "top_p", "'top_p' must be greater than 0 and at most 1; got 0.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "n": 17}""", "n", "'n' must be between 1 and 16; got 17.")]
    // One of the model's 16 places is the template's own stop ("\nUser:").
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "stop": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"]}""", "stop", "'stop' may hold at most 15 sequences; got 16.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "seed": -1}""", "seed", "'seed' must be an integer from 0 to 18446744073709551615; got -1.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "logprobs": true}""", "logprobs", "'logprobs' is not supported by this server (only false is accepted); got true.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "response_format": {"type": "json_object"}}""", "response_format",
        "'response_format' is not supported by this server (only {\"type\": \"text\"} is accepted); got an object.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "tools": [{"type": "function", "function": {"name": "f"}}]}""", "tools",
        "'tools' is not supported by this server (only [] is accepted); got an array.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "tool_choice": "auto"}""", "tool_choice", "'tool_choice' is not supported by this server (only \"none\" is accepted); got \"auto\".")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "store": true}""", "store", "'store' is not supported by this server (only false is accepted); got true.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "top_logprobs": 3}""", "top_logprobs", "'top_logprobs' is not supported by this server (only 0 is accepted); got 3.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "modalities": ["text", "audio"]}""", "modalities", "'modalities' is not supported by this server (only [\"text\"] is accepted); got an array.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "prompt": "a"}""", "prompt", "Unrecognized request field 'prompt'.")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "echo": true}""", "echo", "Unrecognized request field 'echo'.")]
    public async Task Chat_rejects_a_bad_field_with_400_naming_it(string body, string param, string message)
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/chat/completions", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(message, error.GetProperty("message").GetString());
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task Chat_accepts_the_values_of_unsupported_openai_features_that_ask_for_none_of_them()
    {
        // What SDKs and agent frameworks may send explicitly for a plain chat turn.
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/chat/completions", Json("""
            {"messages": [{"role": "user", "content": "a"}], "response_format": {"type": "text"}, "tools": [], "functions": [],
             "tool_choice": "none", "function_call": "none", "parallel_tool_calls": false, "store": false, "metadata": {"app": "x"},
             "service_tier": "auto", "top_logprobs": 0, "modalities": ["text"], "audio": null, "logprobs": false}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task Null_fields_in_a_message_count_as_absent_as_in_messages_copied_from_openai_responses()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/chat/completions", Json("""
            {"messages": [{"role": "user", "content": "a", "name": null},
                          {"role": "assistant", "content": "b", "refusal": null, "tool_calls": null, "audio": null, "function_call": null},
                          {"role": "user", "content": "c"}]}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("User: a\nAssistant: b\nUser: c\nAssistant:", Assert.Single(host.Preprocessor.Requests).Prompt);
    }

    [Theory]
    [InlineData("max_new_tokens", """{"messages": [{"role": "user", "content": "a"}], "max_completion_tokens": 4000}""", "max_completion_tokens")]
    [InlineData("max_new_tokens", """{"messages": [{"role": "user", "content": "a"}], "max_tokens": 4000}""", "max_tokens")]
    [InlineData("prompt", """{"messages": [{"role": "user", "content": "a"}]}""", "messages")]
    public async Task Preprocessor_rejection_names_the_chat_field(string upstreamField, string body, string param)
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Failure = PreprocessorFailures.Invalid(upstreamField, "too long");

        using var response = await host.Client.PostAsync("/v1/chat/completions", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (await response.ReadJsonAsync()).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Unknown_model_is_404_as_for_completions()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.PostAsync("/v1/chat/completions", Json("""{"model": "gpt-4o", "messages": [{"role": "user", "content": "a"}]}"""));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("model_not_found", (await response.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Models_list_says_the_model_is_not_a_chat_model()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.GetAsync("/v1/models");

        var description = (await response.ReadJsonAsync()).GetProperty("data")[0].GetProperty("description").GetString();

        Assert.Contains("not instruction- or chat-tuned", description);
    }

    [Fact]
    public async Task Stream_failure_after_the_first_delta_is_an_error_event_without_done()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Stream = _ => [new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.Failure = new RpcException(new Status(StatusCode.Unavailable, "backend connection lost"));

        using var response = await host.Client.PostAsync("/v1/chat/completions", Json("""{"messages": [{"role": "user", "content": "a"}], "stream": true}"""));

        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        Assert.Equal(2, events.Count);
        Assert.Equal("Hà", JsonDocument.Parse(events[0].Data).RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
        Assert.Equal("error", events[1].Event);
        Assert.Equal("unavailable", JsonDocument.Parse(events[1].Data).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Client_that_disconnects_mid_stream_cancels_the_preprocessor_call()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Stream = _ => [new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.HangAfterStream = true;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = Json("""{"messages": [{"role": "user", "content": "a"}], "stream": true}"""),
        };

        using (var response = await host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync());
        }

        await host.Preprocessor.StreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Openapi_document_describes_the_chat_endpoint_and_its_messages()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.GetAsync("/openapi/v1.json");

        var document = (await response.ReadJsonAsync()).GetRawText();
        Assert.Contains("\"/v1/chat/completions\"", document);
        Assert.Contains("\"ChatCompletionBody\"", document);
        Assert.Contains("\"max_completion_tokens\"", document);
    }

    [Fact]
    public void Template_ends_a_conversation_that_ends_with_the_assistant_by_opening_a_new_assistant_turn()
    {
        var prompt = ChatTemplate.Render([new ChatMessage(ChatRoles.Developer, "Ngắn gọn."), new ChatMessage(ChatRoles.Assistant, "Chào!")]);

        Assert.Equal("Ngắn gọn.\n\nAssistant: Chào!\nAssistant:", prompt);
    }
}
