using System.Text;
using System.Text.Json;
using Grpc.Core;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.CpuBackend.Serving.Rest;

/// <summary>Triton's generate extension: <c>generate</c> answers one JSON object, <c>generate_stream</c> Server-Sent Events,
/// one <c>data:</c> event per response (one per token when the request's input 'streaming' is true).</summary>
/// <remarks>As Triton: a request refused before generation starts is a JSON error with its HTTP status on either route; a
/// failure after the first event is an event <c>{"error": "..."}</c> in a stream whose status was already 200.</remarks>
internal static class GenerateEndpoints
{
    private const string Route = "REST generate";
    private static readonly byte[] EventStart = Encoding.ASCII.GetBytes("data: ");
    private static readonly byte[] EventEnd = Encoding.ASCII.GetBytes("\n\n");

    public static async Task<IResult> GenerateAsync(HttpContext http, InferenceService service, string name, string? version)
    {
        var cancellation = http.RequestAborted;
        ModelInferRequest? request = null;
        try
        {
            request = await ReadAsync(http, service, name, version).ConfigureAwait(false);
            var response = await service.InferWholeAsync(request, cancellation, streamingCall: "generate_stream").ConfigureAwait(false);
            return Results.Bytes(GenerateMessages.Write(response), "application/json");
        }
        catch (Exception error) when (!cancellation.IsCancellationRequested)
        {
            var (status, message) = KServeRestEndpoints.Refusal(service, error, request, Route);
            return KServeRestEndpoints.Error(status, message);
        }
    }

    public static async Task GenerateStreamAsync(HttpContext http, InferenceService service, string name, string? version)
    {
        var cancellation = http.RequestAborted;
        ModelInferRequest? request = null;
        var started = false;
        try
        {
            request = await ReadAsync(http, service, name, version).ConfigureAwait(false);
            await service.InferDecoupledAsync(request, async response =>
            {
                if (!started)
                {
                    http.Response.ContentType = "text/event-stream; charset=utf-8";
                    http.Response.Headers.CacheControl = "no-cache";
                    started = true;
                }
                // The flag-only final response of a stream carries nothing; Triton sends no event for it either.
                if (response.Outputs.Count > 0)
                    await WriteEventAsync(http.Response, GenerateMessages.Write(response), cancellation).ConfigureAwait(false);
            }, cancellation).ConfigureAwait(false);
        }
        catch (Exception error) when (!cancellation.IsCancellationRequested)
        {
            var (status, message) = KServeRestEndpoints.Refusal(service, error, request, Route);
            if (!started)
            {
                http.Response.StatusCode = status;
                await http.Response.WriteAsJsonAsync(new { error = message }, cancellation).ConfigureAwait(false);
                return;
            }
            await WriteEventAsync(http.Response, JsonSerializer.SerializeToUtf8Bytes(new { error = message }), cancellation).ConfigureAwait(false);
        }
        catch (Exception) when (cancellation.IsCancellationRequested)
        {
            // The client went away: nobody to answer, and not an error of ours.
        }
    }

    private static async Task<ModelInferRequest> ReadAsync(HttpContext http, InferenceService service, string name, string? version)
    {
        service.RequireModel(name, version ?? "");
        using var body = await RestRequestBody.ReadAsync(http).ConfigureAwait(false);
        return GenerateMessages.Read(body.GetBuffer().AsMemory(0, (int)body.Length), name, version ?? "");
    }

    private static async Task WriteEventAsync(HttpResponse response, byte[] json, CancellationToken cancellation)
    {
        await response.Body.WriteAsync(EventStart, cancellation).ConfigureAwait(false);
        await response.Body.WriteAsync(json, cancellation).ConfigureAwait(false);
        await response.Body.WriteAsync(EventEnd, cancellation).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellation).ConfigureAwait(false);
    }
}
