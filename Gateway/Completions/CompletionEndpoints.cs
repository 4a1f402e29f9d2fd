using GptjAspire.Gateway.Admission;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Metrics;
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
            .ProducesErrors()
            .WithGenerationMetrics("text_completion");
        return app;
    }

    static async Task CompleteAsync(HttpContext http, IOptions<GatewayOptions> options, ServedModel model)
    {
        var body = await JsonBody.ReadObjectAsync(http.Request, options.Value.MaxRequestBodyBytes, http.RequestAborted);
        var request = CompletionRequest.Parse(body, RequestLimits.From(await model.GetAsync(http.RequestAborted), options.Value));
        await RespondAsync(http, request, new TextCompletionShape());
    }

    /// <summary>Queues a checked request, generates every prompt × n samples and answers in <paramref name="shape"/>, whole or streamed.</summary>
    public static async Task RespondAsync(HttpContext http, CompletionRequest request, ICompletionShape shape)
    {
        // The caller's token allowance pays for the most this request can generate, before it waits in the queue.
        var charge = http.ChargeGeneratedTokens((long)request.Prompt.Count * request.N * request.MaxTokens, request.UpstreamFieldNames["max_new_tokens"]);
        try
        {
            await GenerateAsync(http, request, shape);
        }
        catch (ApiException failure)
        {
            charge.RefundIfRefused(failure);
            throw;
        }
    }

    static async Task GenerateAsync(HttpContext http, CompletionRequest request, ICompletionShape shape)
    {
        var services = http.RequestServices;
        var preprocessor = services.GetRequiredService<PreprocessorClient>();
        var cancellationToken = http.RequestAborted;
        // One backend request per prompt, all at once: one admission slot each.
        using var admission = await services.GetRequiredService<AdmissionQueue>()
            .EnterAsync(RequestWork.ForCompletion(request.Prompt, request.N, request.MaxTokens), request.Prompt.Count, cancellationToken);
        var id = $"{shape.IdPrefix}{Guid.NewGuid():N}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;

        // The slots and the work are the backend's: both are given back once the generation has arrived here, before a
        // client that reads slowly has taken it all.
        if (request.Stream)
        {
            var logger = services.GetRequiredService<ILogger<CompletionStream>>();
            var deliveryLimit = services.GetRequiredService<IOptions<GatewayOptions>>().Value.RequestTimeout;
            await new CompletionStream(request, shape, id, created, preprocessor, json, logger)
                .WriteAsync(http.Response, admission, deliveryLimit, cancellationToken);
            return;
        }

        var responses = await GenerateAllAsync(request, id, preprocessor, cancellationToken);
        admission.Completed();
        admission.Dispose();
        var choices = responses
            .SelectMany((response, prompt) => response.Completions.Select(c =>
                new CompletionChoice(prompt * request.N + c.Index, c.Text, null, FinishReasons.ToOpenAi(c.FinishReason))))
            .OrderBy(c => c.Index)
            .ToList();
        var promptTokens = responses.Sum(r => r.Usage.PromptTokens);
        var completionTokens = responses.Sum(r => r.Usage.CompletionTokens);
        var usage = new CompletionUsage(promptTokens, completionTokens, promptTokens + completionTokens);
        await Results.Json(shape.Whole(id, created, request.Model, choices, usage), json).ExecuteAsync(http);
    }

    // One Preprocessor call per prompt, concurrently; the first failure cancels the rest and is the one reported.
    static async Task<Gptj.V1.GenerateResponse[]> GenerateAllAsync(
        CompletionRequest request, string id, PreprocessorClient preprocessor, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ApiException? failure = null;
        var calls = Enumerable.Range(0, request.Prompt.Count).Select(async prompt =>
        {
            try
            {
                return await preprocessor.GenerateAsync(request.ToGenerateRequest(prompt, id), request.UpstreamFieldNamesFor(prompt), stop.Token);
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
