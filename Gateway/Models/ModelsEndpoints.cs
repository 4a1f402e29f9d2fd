using GptjAspire.Gateway.Errors;
using GptjAspire.Gptj.V1;

namespace GptjAspire.Gateway.Models;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{model}</c>: the one model served, as the Preprocessor describes it.</summary>
public static class ModelsEndpoints
{
    /// <summary>Tells clients what they are talking to: chat requests work, but through a transcript, not a chat-tuned model.</summary>
    public const string Description = "GPT-J 6B, a base language model: it is not instruction- or chat-tuned. /v1/chat/completions "
        + "renders the messages as a plain-text 'User: ... / Assistant:' transcript for the model to continue.";

    public static IEndpointRouteBuilder MapModels(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", async (ServedModel model, CancellationToken cancellationToken) =>
            {
                var info = await model.GetAsync(cancellationToken);
                return Results.Ok(new ModelList("list", [Card(info)]));
            })
            .WithSummary("Lists the served model.")
            .Produces<ModelList>()
            .Produces<ErrorResponse>(StatusCodes.Status503ServiceUnavailable);
        // OpenAI's "retrieve model" (the SDKs' models.retrieve). A catch-all, since a served name may be a Hugging Face
        // repository id such as "VietAI/gpt-j-6B-vietnamese-news", slash included; some SDKs send that slash as %2F,
        // which the server leaves encoded in the path.
        app.MapGet("/v1/models/{**model}", async (string model, ServedModel served, CancellationToken cancellationToken) =>
            {
                var info = await served.GetAsync(cancellationToken);
                var requested = Uri.UnescapeDataString(model);
                return requested == info.Name ? Results.Ok(Card(info)) : throw ApiException.ModelNotFound(requested, info.Name);
            })
            .WithSummary("Describes the served model; any other name is 404 model_not_found.")
            .Produces<ModelCard>()
            .Produces<ErrorResponse>(StatusCodes.Status404NotFound)
            .Produces<ErrorResponse>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    static ModelCard Card(ModelInfo info) => new(info.Name, "model", 0, "gptj-aspire", info.ContextLength, Description);
}
