using System.IO.Compression;
using System.Text.Json;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Protocol;
using Microsoft.AspNetCore.Http.Features;

namespace GptjAspire.CpuBackend.Serving.Rest;

/// <summary>Reads an inference request's body as Triton's HTTP server takes it: as sent, or compressed with gzip or deflate
/// (<c>Content-Encoding</c>, what tritonclient's <c>request_compression_algorithm</c> sends), at most
/// <see cref="TritonInferenceClient.MaxMessageBytes"/> once decompressed, the gRPC side's limit.</summary>
internal static class RestRequestBody
{
    public static async Task<MemoryStream> ReadAsync(HttpContext http)
    {
        // The gRPC side's limit, not Kestrel's default of 30 MB: an 8 MB prompt tensor is as welcome here as there.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = TritonInferenceClient.MaxMessageBytes;
        var request = http.Request;
        var cancellationToken = http.RequestAborted;
        var encoding = request.Headers.ContentEncoding.ToString().Trim();
        var source = encoding.ToLowerInvariant() switch
        {
            "" or "identity" => request.Body,
            "gzip" => new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true),
            "deflate" => new ZLibStream(request.Body, CompressionMode.Decompress, leaveOpen: true),
            _ => throw new RestRequestException(
                $"Content-Encoding '{encoding}' is not supported; send the body as it is, or compressed with gzip or deflate.",
                StatusCodes.Status415UnsupportedMediaType),
        };
        var body = new MemoryStream();
        var buffer = new byte[81920];
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                // Checked on the decompressed bytes: a small compressed body may expand without bound.
                if (body.Length + read > TritonInferenceClient.MaxMessageBytes)
                    throw new RestRequestException(
                        $"The request body is more than {TritonInferenceClient.MaxMessageBytes} bytes{(encoding.Length > 0 ? " once decompressed" : "")}.",
                        StatusCodes.Status413PayloadTooLarge);
                body.Write(buffer, 0, read);
            }
        }
        catch (InvalidDataException error)
        {
            throw new RestRequestException($"The request body is not valid {encoding} data: {error.Message}");
        }
        finally
        {
            if (source != request.Body)
                await source.DisposeAsync().ConfigureAwait(false); // the decompressor only: the request's own stream stays Kestrel's
        }
        return body;
    }

    /// <summary>A request parameter from a JSON value, as Triton reads one: a boolean, a string, an integer or a double;
    /// null for any other kind, which the caller refuses in its own words.</summary>
    public static InferParameter? Parameter(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True or JsonValueKind.False => new InferParameter { BoolParam = value.GetBoolean() },
        JsonValueKind.String => new InferParameter { StringParam = value.GetString() },
        JsonValueKind.Number when value.TryGetInt64(out var integer) => new InferParameter { Int64Param = integer },
        JsonValueKind.Number => new InferParameter { DoubleParam = value.GetDouble() },
        _ => null,
    };

    /// <summary>Most bytes of JSON one request may hold. A parsed JSON document takes several times its text in memory;
    /// large tensors belong in the binary part of an infer request (up to the 64 MiB of the whole body), which is copied once.</summary>
    public const int MaxJsonBytes = 16 * 1024 * 1024;

    /// <summary>Parses a body's JSON; more than <see cref="MaxJsonBytes"/> (a 413, with <paramref name="tooLargeAdvice"/> appended),
    /// malformed JSON, or a string or name that is not Unicode text, is a <see cref="RestRequestException"/> naming the problem.</summary>
    public static JsonDocument ParseJson(ReadOnlyMemory<byte> json, string tooLargeAdvice = "")
    {
        if (json.Length > MaxJsonBytes)
            throw new RestRequestException($"The request's JSON is {json.Length} bytes, more than the {MaxJsonBytes} allowed{tooLargeAdvice}.",
                StatusCodes.Status413PayloadTooLarge);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException error)
        {
            throw new RestRequestException($"The request is not valid JSON: {error.Message}");
        }
        try
        {
            RequireUnicodeText(document.RootElement, "");
            return document;
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    // The parser accepts an escaped lone surrogate ("\ud800"), which is valid JSON but no Unicode text; reading it as a
    // string throws later, where it would be taken for a fault of the server. Checked once here, for every string and name.
    private static void RequireUnicodeText(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                RequireUnicodeText(() => element.GetString(), path.Length == 0 ? "The request's string" : $"The string at '{path}'");
                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                    RequireUnicodeText(item, $"{path}[{index++}]");
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var name = RequireUnicodeText(() => property.Name, path.Length == 0 ? "A name at the top level" : $"A name in '{path}'");
                    RequireUnicodeText(property.Value, path.Length == 0 ? name : $"{path}.{name}");
                }
                break;
        }
    }

    private static string RequireUnicodeText(Func<string?> read, string what)
    {
        try
        {
            return read() ?? "";
        }
        catch (InvalidOperationException)
        {
            throw new RestRequestException($"{what} escapes an unpaired UTF-16 surrogate; JSON strings must be Unicode text.");
        }
    }
}
