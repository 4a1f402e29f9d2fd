using System.ClientModel;
using GptjAspire.AppHost.Tests.Running;
using Microsoft.Extensions.AI;
using OpenAI;

namespace GptjAspire.AppHost.Tests.Api;

/// <summary>Microsoft.Extensions.AI's <see cref="IChatClient"/> over the official OpenAI library, unchanged, against the running system.</summary>
[Collection(AppCollection.Name)]
public sealed class ChatClientTests(GptjApp system)
{
    IChatClient Client() =>
        new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(system.Gateway.BaseAddress!, "/v1") })
            .GetChatClient("gptj").AsIChatClient();

    [Fact]
    public async Task Chat_reply_streamed_and_whole_is_the_same_text_for_the_same_seed()
    {
        using var client = Client();
        List<Microsoft.Extensions.AI.ChatMessage> conversation = [new(ChatRole.System, "Trò chuyện."), new(ChatRole.User, "Xin chào Việt Nam")];
        var options = new ChatOptions { MaxOutputTokens = 20, Seed = 77, Temperature = 1 };

        var whole = await client.GetResponseAsync(conversation, options);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(conversation, options))
            updates.Add(update);
        var streamed = updates.ToChatResponse();

        Assert.NotEmpty(whole.Text);
        Assert.DoesNotContain("\nUser:", whole.Text);
        Assert.Equal(whole.Text, streamed.Text);
        Assert.Equal(whole.FinishReason, streamed.FinishReason);
        Assert.Contains(whole.FinishReason, new ChatFinishReason?[] { ChatFinishReason.Stop, ChatFinishReason.Length });
        Assert.True(whole.Usage?.InputTokenCount > 5, "the rendered transcript is the prompt");
        Assert.InRange(whole.Usage?.OutputTokenCount ?? 0, 1, 20);
    }

    [Fact]
    public async Task Chat_message_too_long_for_the_context_is_a_400_the_client_sees()
    {
        using var client = Client();

        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            client.GetResponseAsync("Xin chào", new ChatOptions { MaxOutputTokens = 1_000_000 }));

        Assert.Equal(400, error.Status);
        Assert.Contains("max_completion_tokens", error.Message);
    }
}
