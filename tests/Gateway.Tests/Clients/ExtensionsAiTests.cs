using System.ClientModel;
using GptjAspire.Gateway.Tests.Api;
using Microsoft.Extensions.AI;
using OpenAI;

namespace GptjAspire.Gateway.Tests.Clients;

/// <summary>Microsoft.Extensions.AI's <see cref="IChatClient"/> over the OpenAI library, unchanged, against the Gateway.</summary>
public sealed class ExtensionsAiTests
{
    static IChatClient Client(GatewayHost host) =>
        new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(host.Client.BaseAddress!, "/v1") })
            .GetChatClient("gptj").AsIChatClient();

    [Fact]
    public async Task GetResponseAsync_returns_the_reply_with_finish_reason_and_usage()
    {
        await using var host = await GatewayHost.StartAsync();
        using var client = Client(host);

        var response = await client.GetResponseAsync(
            [new(ChatRole.System, "Trả lời ngắn."), new(ChatRole.User, "Hà Nội ở đâu?")],
            new ChatOptions { MaxOutputTokens = 6, Temperature = 0, Seed = 11, TopP = 0.5f, StopSequences = ["\n\n"] });

        Assert.Equal(" mẫu 0", response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal((3L, 2L, 5L), (response.Usage?.InputTokenCount, response.Usage?.OutputTokenCount, response.Usage?.TotalTokenCount));
        var sent = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal("Trả lời ngắn.\n\nUser: Hà Nội ở đâu?\nAssistant:", sent.Prompt);
        Assert.Equal((6, 0f, 0.5f, 11UL), (sent.MaxNewTokens, sent.Sampling.Temperature, sent.Sampling.TopP, sent.Sampling.Seed));
        Assert.Equal(["\n\n", "\nUser:"], sent.Stop);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_updates_concatenate_to_the_reply()
    {
        await using var host = await GatewayHost.StartAsync();
        using var client = Client(host);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("Xin chào"))
            updates.Add(update);

        Assert.True(updates.Count(u => u.Text.Length > 0) >= 2, "the reply arrives in several deltas");
        var response = updates.ToChatResponse();
        Assert.Equal(" Việt Nam", response.Text);
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(5L, response.Usage?.TotalTokenCount);
    }

    [Fact]
    public async Task A_bad_value_surfaces_as_the_gateways_400()
    {
        await using var host = await GatewayHost.StartAsync();
        using var client = Client(host);

        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            client.GetResponseAsync("a", new ChatOptions { TopP = 0 }));

        Assert.Equal(400, error.Status);
        Assert.Contains("'top_p' must be greater than 0 and at most 1; got 0.", error.Message);
    }
}
