using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using GptjAspire.TritonClient.Protocol;
using Microsoft.AspNetCore.WebUtilities;

namespace GptjAspire.CpuBackend.Serving.Rest;

/// <summary>The KServe v2 HTTP/REST protocol beside the gRPC one, as Triton serves it on its HTTP port: health, server and
/// model metadata, Triton's model configuration, whole-result inference (JSON, or JSON with binary tensor data) and
/// Triton's generate extension (<see cref="GenerateEndpoints"/>).</summary>
/// <remarks>Both protocols answer from the same <see cref="InferenceService"/>. Over REST, tokens stream only on
/// <c>generate_stream</c>, as with Triton, whose HTTP inference refuses decoupled models. Errors are Triton's
/// <c>{"error": "..."}</c> with the HTTP status of the gRPC code.</remarks>
public static class KServeRestEndpoints
{
    public static IEndpointRouteBuilder MapKServeRest(this IEndpointRouteBuilder endpoints)
    {
        var v2 = endpoints.MapGroup("/v2");
        v2.MapGet("/health/live", () => Results.Ok());
        v2.MapGet("/health/ready", (InferenceService service) => service.IsServerReady ? Results.Ok() : Unready("The model is not loaded."));
        v2.MapGet("", () => Results.Json(new { name = InferenceService.ServerName, version = InferenceService.ServerVersion, extensions = InferenceService.ServerExtensions }));
        v2.MapPost("/repository/index", RepositoryIndexAsync);
        v2.MapGet("/models/stats", (InferenceService service) => Answer(() => Protobuf(service.Statistics("", ""))));
        foreach (var action in new[] { "load", "unload" })
            v2.MapPost($"/repository/models/{{name}}/{action}", () => Answer(() => throw InferenceService.ModelControlRefused()));
        foreach (var model in new[] { "/models/{name}", "/models/{name}/versions/{version}" })
        {
            v2.MapGet(model, (InferenceService service, string name, string? version) =>
                Answer(() => Protobuf(service.Metadata(name, version ?? ""))));
            v2.MapGet(model + "/ready", (InferenceService service, string name, string? version) =>
                service.IsModelReady(name, version ?? "") ? Results.Ok() : Unready($"Model '{name}' is not ready."));
            v2.MapGet(model + "/config", (InferenceService service, string name, string? version) =>
                Answer(() => Protobuf(service.Config(name, version ?? ""))));
            v2.MapGet(model + "/stats", (InferenceService service, string name, string? version) =>
                Answer(() => Protobuf(service.Statistics(name, version ?? ""))));
            v2.MapPost(model + "/infer", InferAsync);
            v2.MapPost(model + "/generate", GenerateEndpoints.GenerateAsync);
            v2.MapPost(model + "/generate_stream", GenerateEndpoints.GenerateStreamAsync);
        }
        return endpoints;
    }

    /// <summary>Gives the REST routes' bodiless refusals Triton's <c>{"error": "..."}</c>, which tritonclient reads: 404 for a
    /// route Triton has and this server does not (shared memory, tracing, logging), 405 for a wrong method.</summary>
    public static IApplicationBuilder UseKServeRestErrorBodies(this IApplicationBuilder app) =>
        app.UseStatusCodePages(async context =>
        {
            var http = context.HttpContext;
            if (!http.Request.Path.StartsWithSegments("/v2"))
                return;
            var message = http.Response.StatusCode switch
            {
                StatusCodes.Status404NotFound =>
                    $"'{http.Request.Path}' is not served here; this server has KServe v2 health, server and model metadata, model configuration, the model repository, statistics, inference and generate.",
                StatusCodes.Status405MethodNotAllowed => $"{http.Request.Method} is not allowed on '{http.Request.Path}'.",
                var status => ReasonPhrases.GetReasonPhrase(status),
            };
            await http.Response.WriteAsJsonAsync(new { error = message }, http.RequestAborted).ConfigureAwait(false);
        });

    private static async Task<IResult> InferAsync(HttpContext http, InferenceService service, string name, string? version)
    {
        var cancellation = http.RequestAborted;
        ModelInferRequest? request = null;
        try
        {
            service.RequireModel(name, version ?? "");
            int? headerLength = null;
            if (http.Request.Headers.TryGetValue(RestInferMessages.HeaderLengthHeader, out var header))
                headerLength = int.TryParse(header, out var length) ? length : throw new RestRequestException($"{RestInferMessages.HeaderLengthHeader} is not a byte count: '{header}'.");
            using var body = await RestRequestBody.ReadAsync(http).ConfigureAwait(false);
            (request, var outputs) = RestInferMessages.Read(body.GetBuffer().AsMemory(0, (int)body.Length), headerLength, name, version ?? "");
            var response = await service.InferWholeAsync(request, cancellation).ConfigureAwait(false);
            var (bytes, responseHeaderLength) = RestInferMessages.Write(response, outputs);
            if (responseHeaderLength is not { } jsonLength)
                return Results.Bytes(bytes, "application/json");
            http.Response.Headers[RestInferMessages.HeaderLengthHeader] = jsonLength.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.Bytes(bytes, "application/octet-stream");
        }
        catch (Exception error) when (!cancellation.IsCancellationRequested)
        {
            var (status, message) = Refusal(service, error, request, "REST infer");
            return Error(status, message);
        }
    }

    /// <summary>The HTTP status and message of a failed request, logged as the gRPC side logs it: a refused request as a
    /// warning naming the problem, without a stack.</summary>
    internal static (int Status, string Message) Refusal(InferenceService service, Exception error, ModelInferRequest? request, string route)
    {
        switch (error)
        {
            case RestRequestException refused:
                service.Log(error, request?.Id ?? "", route, new Google.Rpc.Status { Code = (int)StatusCode.InvalidArgument, Message = refused.Message });
                return (refused.StatusCode, refused.Message);
            case BadHttpRequestException kestrel:
                return (kestrel.StatusCode, kestrel.Message); // Kestrel's own refusal of the body (over the size limit, or cut short)
            default:
                var status = ServingErrors.ToStatus(error, DateTime.MaxValue);
                service.Log(error, request?.Id ?? "", route, status);
                return (HttpStatus((StatusCode)status.Code), status.Message);
        }
    }

    /// <summary>Triton's repository index: a JSON array of the models (name, version, state, reason); the body may ask for ready ones only.</summary>
    private static async Task<IResult> RepositoryIndexAsync(HttpContext http, InferenceService service)
    {
        var readyOnly = false;
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync(http.RequestAborted).ConfigureAwait(false);
        if (!string.IsNullOrWhiteSpace(text))
        {
            try
            {
                using var body = JsonDocument.Parse(text);
                if (body.RootElement.ValueKind != JsonValueKind.Object)
                    return Error(StatusCodes.Status400BadRequest, "The request must be a JSON object.");
                if (body.RootElement.TryGetProperty("ready", out var ready))
                    readyOnly = ready.ValueKind is JsonValueKind.True or JsonValueKind.False ? ready.GetBoolean() : throw new JsonException("'ready' must be true or false.");
            }
            catch (JsonException error)
            {
                return Error(StatusCodes.Status400BadRequest, $"The request is not valid: {error.Message}");
            }
        }
        var models = service.Index(readyOnly).Models.Select(m => new { name = m.Name, version = m.Version, state = m.State, reason = m.Reason });
        return Results.Json(models);
    }

    /// <summary>Runs a lookup of the gRPC service, answering its failure (unknown model, still loading, model control off) as REST.</summary>
    private static IResult Answer(Func<IResult> lookup)
    {
        try
        {
            return lookup();
        }
        catch (RpcException error)
        {
            return Error(HttpStatus(error.StatusCode), error.Status.Detail);
        }
    }

    // Triton's REST messages are the gRPC ones in protobuf's JSON mapping (field names as in the .proto), except that 64-bit
    // integers (shapes, dims) are JSON numbers, where the mapping writes strings.
    private static readonly JsonFormatter ProtoJson = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true));

    private static IResult Protobuf(IMessage message)
    {
        var json = JsonNode.Parse(ProtoJson.Format(message))!;
        WriteAsNumbers(json, Int64Fields(message.Descriptor, []));
        return Results.Text(json.ToJsonString(), "application/json");
    }

    /// <summary>The names of the 64-bit integer fields of a message and of every message inside it.</summary>
    private static HashSet<string> Int64Fields(MessageDescriptor descriptor, HashSet<MessageDescriptor> seen)
    {
        var names = new HashSet<string>();
        if (!seen.Add(descriptor))
            return names;
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            if (field.FieldType is FieldType.Int64 or FieldType.UInt64 or FieldType.SInt64 or FieldType.Fixed64 or FieldType.SFixed64)
                names.Add(field.Name);
            if (field.FieldType == FieldType.Message)
                names.UnionWith(Int64Fields(field.MessageType, seen)); // a map's entry type holds its value's message
        }
        return names;
    }

    private static void WriteAsNumbers(JsonNode? node, HashSet<string> int64Fields)
    {
        switch (node)
        {
            case JsonObject json:
                foreach (var (key, value) in json.ToList())
                {
                    if (int64Fields.Contains(key))
                        json[key] = Number(value);
                    else
                        WriteAsNumbers(value, int64Fields);
                }
                break;
            case JsonArray array:
                foreach (var item in array)
                    WriteAsNumbers(item, int64Fields);
                break;
        }
    }

    private static JsonNode? Number(JsonNode? value) => value switch
    {
        JsonValue text when text.TryGetValue<string>(out var digits) && long.TryParse(digits, System.Globalization.CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
        JsonValue text when text.TryGetValue<string>(out var digits) && ulong.TryParse(digits, System.Globalization.CultureInfo.InvariantCulture, out var unsigned) => JsonValue.Create(unsigned),
        JsonArray array => new JsonArray(array.Select(item => Number(item?.DeepClone())).ToArray()),
        _ => value?.DeepClone(),
    };

    private static IResult Unready(string message) => Error(StatusCodes.Status400BadRequest, message);

    internal static IResult Error(int status, string message) => Results.Json(new { error = message }, statusCode: status);

    /// <summary>The HTTP status of a gRPC code, as an HTTP client expects it (Triton answers REST errors the same way).</summary>
    internal static int HttpStatus(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };
}
