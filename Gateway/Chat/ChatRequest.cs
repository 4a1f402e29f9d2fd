using System.Text.Json;
using GptjAspire.Gateway.Completions;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Validation;

namespace GptjAspire.Gateway.Chat;

/// <summary>Checks an OpenAI <c>/v1/chat/completions</c> request and turns it into the completion request of its rendered transcript.</summary>
public static class ChatRequest
{
    /// <remarks>The template's own stop sequence takes one of the model's places, so the client may give one fewer than for completions.</remarks>
    public static CompletionRequest Parse(JsonElement body, RequestLimits limits)
    {
        var fields = new RequestFields(body);
        var messages = fields.Raw("messages");
        var maxCompletionTokens = CompletionRequest.ReadMaxTokens(fields, "max_completion_tokens", limits);
        var maxTokens = CompletionRequest.ReadMaxTokens(fields, "max_tokens", limits);
        if (maxCompletionTokens is not null && maxTokens is not null)
            throw ApiException.Invalid("max_tokens", "Give 'max_completion_tokens' or its older name 'max_tokens', not both.");
        if (fields.Boolean("logprobs") == true)
            throw ApiException.Invalid("logprobs", "'logprobs' is not supported by this server (only false is accepted); got true.");
        var maxTokensField = maxTokens is null ? "max_completion_tokens" : "max_tokens";
        NeutralField.RequireAll(fields, ChatNeutralFields.Fields);

        var clientLimits = limits.MaxStopSequences > 0 ? limits with { MaxStopSequences = limits.MaxStopSequences - 1 } : limits;
        var request = CompletionRequest.Parse(fields, clientLimits, (maxTokensField, maxCompletionTokens ?? maxTokens), echo: false,
            () => [CompletionPrompt.FromText(ChatTemplate.Render(ChatMessages.Parse(messages)))]);
        return request with
        {
            Stop = [.. request.Stop ?? [], ChatTemplate.NextUserTurn],
            UpstreamFieldNames = new Dictionary<string, string>
            {
                ["prompt"] = "messages",
                ["max_new_tokens"] = maxTokensField,
                ["max_total_tokens"] = maxTokensField,
            },
        };
    }
}
