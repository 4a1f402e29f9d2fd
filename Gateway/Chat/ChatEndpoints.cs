using GptjAspire.Gateway.Completions;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Metrics;
using GptjAspire.Gateway.Validation;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Chat;

/// <summary>OpenAI's <c>POST /v1/chat/completions</c>: the messages rendered by <see cref="ChatTemplate"/>, then the completions pipeline.</summary>
public static class ChatEndpoints
{
    public static IEndpointRouteBuilder MapChatCompletions(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/chat/completions", CompleteAsync)
            .WithSummary("OpenAI-compatible chat completion over a plain-text User:/Assistant: transcript (GPT-J is not a chat model); "
                + "stream=true answers with Server-Sent Events ending in 'data: [DONE]'.")
            .Accepts<ChatCompletionBody>("application/json")
            .Produces<ChatCompletionResponse>()
            .Produces<ChatCompletionChunk>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesErrors()
            .WithGenerationMetrics("chat");
        return app;
    }

    static async Task CompleteAsync(HttpContext http, IOptions<GatewayOptions> options, ServedModel model)
    {
        var body = await JsonBody.ReadObjectAsync(http.Request, options.Value.MaxRequestBodyBytes, http.RequestAborted);
        var request = ChatRequest.Parse(body, RequestLimits.From(await model.GetAsync(http.RequestAborted), options.Value));
        await CompletionEndpoints.RespondAsync(http, request, new ChatCompletionShape());
    }
}
