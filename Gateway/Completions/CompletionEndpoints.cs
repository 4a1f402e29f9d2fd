using GptjAspire.Gateway.Admission;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Preprocessing;
using GptjAspire.Gateway.RateLimiting;
using GptjAspire.Gateway.Validation;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Completions;

/// <summary>OpenAI's <c>POST /v1/completions</c>, whole or streamed: validate → queue → call the Preprocessor → respond.</summary>
public static class CompletionEndpoints
{
    public static IEndpointRouteBuilder MapCompletions(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/completions", CompleteAsync)
            .WithSummary("OpenAI-compatible text completion; stream=true answers with Server-Sent Events ending in 'data: [DONE]'.")
            .Accepts<CompletionRequest>("application/json")
            .Produces<CompletionResponse>()
            .Produces<CompletionResponse>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesErrors();
        return app;
    }

    static async Task CompleteAsync(
        HttpContext http, PreprocessorClient preprocessor, AdmissionQueue queue,
        IOptions<GatewayOptions> options, IOptions<JsonOptions> json, IConfiguration configuration, ILogger<CompletionStream> logger)
    {
        var cancellationToken = http.RequestAborted;
        var body = await JsonBody.ReadObjectAsync(http.Request, options.Value.MaxRequestBodyBytes, cancellationToken);
        var request = CompletionRequest.Parse(body, options.Value, ServedModel.Name(configuration));
        http.ChargeGeneratedTokens((long)request.Prompt.Count * request.N * request.MaxTokens, "max_tokens");
        using var slot = await queue.EnterAsync(cancellationToken);
        var id = $"cmpl-{Guid.NewGuid():N}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        if (request.Stream)
        {
            await new CompletionStream(request, id, created, preprocessor, json.Value.SerializerOptions, logger).WriteAsync(http.Response, cancellationToken);
            return;
        }

        var responses = await GenerateAllAsync(request, preprocessor, cancellationToken);
        var choices = responses
            .SelectMany((response, prompt) => response.Completions.Select(c =>
                new CompletionChoice(prompt * request.N + c.Index, c.Text, null, FinishReasons.ToOpenAi(c.FinishReason))))
            .OrderBy(c => c.Index)
            .ToList();
        var promptTokens = responses.Sum(r => r.Usage.PromptTokens);
        var completionTokens = responses.Sum(r => r.Usage.CompletionTokens);
        var usage = new CompletionUsage(promptTokens, completionTokens, promptTokens + completionTokens);
        await Results.Ok(new CompletionResponse(id, "text_completion", created, request.Model, choices, usage)).ExecuteAsync(http);
    }

    // One Preprocessor call per prompt, concurrently; the first failure cancels the rest and is the one reported.
    static async Task<Gptj.V1.GenerateResponse[]> GenerateAllAsync(
        CompletionRequest request, PreprocessorClient preprocessor, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ApiException? failure = null;
        var calls = Enumerable.Range(0, request.Prompt.Count).Select(async prompt =>
        {
            try
            {
                return await preprocessor.GenerateAsync(request.ToGenerateRequest(prompt), CompletionRequest.FieldNames, stop.Token);
            }
            catch (ApiException e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                await stop.CancelAsync();
                throw;
            }
        }).ToArray();
        try
        {
            return await Task.WhenAll(calls);
        }
        catch (OperationCanceledException) when (failure is not null && !cancellationToken.IsCancellationRequested)
        {
            throw failure;
        }
        catch (ApiException) when (failure is not null)
        {
            throw failure;
        }
    }
}
