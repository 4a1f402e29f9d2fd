using System.ClientModel;
using GptjAspire.Gateway.Tests.Api;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Models;

namespace GptjAspire.Gateway.Tests.Clients;

/// <summary>The official <c>OpenAI</c> .NET library, unchanged, against the Gateway (with a scripted Preprocessor behind it).</summary>
public sealed class OpenAiDotnetTests
{
    static OpenAIClient Client(GatewayHost host) =>
        new(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(host.Client.BaseAddress!, "/v1") });

    [Fact]
    public async Task ChatClient_gets_the_reply_finish_reason_and_usage()
    {
        await using var host = await GatewayHost.StartAsync();
        var chat = Client(host).GetChatClient("gptj");

        ChatCompletion completion = await chat.CompleteChatAsync(
            [new SystemChatMessage("Trả lời ngắn."), new UserChatMessage("Xin chào")],
            new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0.3f, StopSequences = { "!" } });

        Assert.Equal(" mẫu 0", Assert.Single(completion.Content).Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal((3, 2, 5), (completion.Usage.InputTokenCount, completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount));
        var sent = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal("Trả lời ngắn.\n\nUser: Xin chào\nAssistant:", sent.Prompt);
        Assert.Equal((5, 0.3f), (sent.MaxNewTokens, sent.Sampling.Temperature));
        Assert.Equal(["!", "\nUser:"], sent.Stop);
    }

    [Fact]
    public async Task ChatClient_streamed_updates_concatenate_to_the_reply()
    {
        await using var host = await GatewayHost.StartAsync();
        var chat = Client(host).GetChatClient("gptj");

        var text = "";
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        ChatMessageRole? role = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Xin chào")]))
        {
            text += string.Concat(update.ContentUpdate.Select(part => part.Text));
            finish ??= update.FinishReason;
            role ??= update.Role;
            usage ??= update.Usage;
        }

        Assert.Equal(" Việt Nam", text);
        Assert.Equal(ChatMessageRole.Assistant, role);
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.Equal(5, usage?.TotalTokenCount);
    }

    [Fact]
    public async Task ChatClient_sees_a_bad_value_as_a_400_naming_it()
    {
        await using var host = await GatewayHost.StartAsync();
        var chat = Client(host).GetChatClient("gptj");

        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            chat.CompleteChatAsync([new UserChatMessage("a")], new ChatCompletionOptions { Temperature = 3 }));

        Assert.Equal(400, error.Status);
        Assert.Contains("'temperature' must be at least 0 and at most 2; got 3.", error.Message);
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task ModelClient_lists_the_served_model()
    {
        await using var host = await GatewayHost.StartAsync();

        OpenAIModelCollection models = await Client(host).GetOpenAIModelClient().GetModelsAsync();

        Assert.Equal("gptj", Assert.Single(models).Id);
    }
}
