using System.Text.Json;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Preprocessing;
using GptjAspire.Gateway.Validation;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Tokenization;

/// <summary><c>POST /tokenize</c> and <c>POST /detokenize</c>, as vLLM's OpenAI-compatible server has them: the model's own
/// tokenizer for clients that count tokens or send token-id prompts.</summary>
public static class TokenizationEndpoints
{
    /// <summary>The Preprocessor's field names as these endpoints call them.</summary>
    static readonly IReadOnlyDictionary<string, string> FieldNames = new Dictionary<string, string> { ["text"] = "prompt" };

    public static IEndpointRouteBuilder MapTokenization(this IEndpointRouteBuilder app)
    {
        app.MapPost("/tokenize", TokenizeAsync)
            .WithSummary("The prompt's token ids (NFC-normalized first, as generation does), their count and the model's context length.")
            .Produces<TokenizedPrompt>()
            .ProducesErrors();
        app.MapPost("/detokenize", DetokenizeAsync)
            .WithSummary("The text of token ids.")
            .Produces<DetokenizedPrompt>()
            .ProducesErrors();
        return app;
    }

    static async Task<IResult> TokenizeAsync(HttpContext http, PreprocessorClient preprocessor, ServedModel model, IOptions<GatewayOptions> options)
    {
        var body = await JsonBody.ReadObjectAsync(http.Request, options.Value.MaxRequestBodyBytes, http.RequestAborted);
        var fields = new RequestFields(body);
        var name = fields.String("model");
        var prompt = fields.String("prompt");
        _ = fields.Boolean("add_special_tokens"); // GPT-J's tokenizer adds none either way
        fields.RejectUnknown();
        if (prompt is null)
            throw ApiException.Invalid("prompt", "'prompt' is required.");
        var info = await model.GetAsync(http.RequestAborted);
        if (name is not null && name != info.Name)
            throw ApiException.ModelNotFound(name, info.Name);

        var tokens = await preprocessor.TokenizeAsync(prompt, FieldNames, http.RequestAborted);
        return Results.Ok(new TokenizedPrompt(tokens.Count, info.ContextLength, tokens));
    }

    static async Task<IResult> DetokenizeAsync(HttpContext http, PreprocessorClient preprocessor, ServedModel model, IOptions<GatewayOptions> options)
    {
        var body = await JsonBody.ReadObjectAsync(http.Request, options.Value.MaxRequestBodyBytes, http.RequestAborted);
        var fields = new RequestFields(body);
        var name = fields.String("model");
        var tokens = fields.Raw("tokens");
        fields.RejectUnknown();
        var info = await model.GetAsync(http.RequestAborted);
        if (name is not null && name != info.Name)
            throw ApiException.ModelNotFound(name, info.Name);
        if (tokens is not { ValueKind: JsonValueKind.Array } array)
            throw ApiException.Invalid("tokens", tokens is null ? "'tokens' is required." : $"'tokens' must be an array of token ids, not {JsonBody.Describe(tokens.Value)}.");
        var ids = TokenIds.Read(array, "tokens", "tokens", info.VocabSize);

        return Results.Ok(new DetokenizedPrompt(await preprocessor.DetokenizeAsync(ids, http.RequestAborted)));
    }
}

/// <summary>vLLM's <c>/tokenize</c> answer.</summary>
public sealed record TokenizedPrompt(int Count, int MaxModelLen, IReadOnlyList<int> Tokens);

/// <summary>vLLM's <c>/detokenize</c> answer.</summary>
public sealed record DetokenizedPrompt(string Prompt);
