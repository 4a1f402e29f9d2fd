using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using GptjAspire.Gateway.Errors;

namespace GptjAspire.Gateway.Validation;

/// <summary>Reads a request body as one JSON object, enforcing the media type, the size limit, UTF-8 (RFC 8259 §8.1), JSON syntax and Unicode text with errors that say which.</summary>
public static class JsonBody
{
    public static async Task<JsonElement> ReadObjectAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        JsonMediaType.Require(request);
        if (request.ContentLength > maxBytes)
            throw TooLarge(maxBytes);

        var bytes = await ReadBoundedAsync(request.Body, maxBytes, cancellationToken);
        if (bytes.Length == 0)
            throw ApiException.Invalid(null, "The request body is empty; send a JSON object.");
        if (FirstInvalidUtf8Byte(bytes) is { } offset)
            throw ApiException.Invalid(null, $"The request body is not valid UTF-8 (invalid byte sequence at byte {offset}).");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw ApiException.Invalid(null, $"The request body is not valid JSON: {e.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw ApiException.Invalid(null, $"The request body must be a JSON object, not {Describe(document.RootElement)}.");
            JsonText.RequireValidUnicode(document.RootElement);
            return document.RootElement.Clone();
        }
    }

    static ApiException TooLarge(long maxBytes) =>
        new(ApiErrorKind.PayloadTooLarge, $"The request body is larger than the limit of {maxBytes} bytes.");

    // Content-Length may be absent (chunked upload), so the limit is enforced while reading too.
    static async Task<byte[]> ReadBoundedAsync(Stream body, long maxBytes, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            var memory = buffer.GetMemory(16 * 1024);
            int read;
            try
            {
                read = await body.ReadAsync(memory, cancellationToken);
            }
            catch (IOException e) when (e is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                // Kestrel reports some framing errors as a bare IOException (a chunk size beyond 64 bits overflows
                // inside its parser); with the client still connected they are the client's malformed request.
                throw ApiException.Invalid(null, "The request body's chunked transfer encoding is malformed.");
            }
            if (read == 0)
                return buffer.WrittenSpan.ToArray();
            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes)
                throw TooLarge(maxBytes);
        }
    }

    static int? FirstInvalidUtf8Byte(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
            return null;
        var chars = new char[bytes.Length];
        Utf8.ToUtf16(bytes, chars, out var bytesRead, out _, replaceInvalidSequences: false);
        return bytesRead;
    }

    /// <summary>Names a JSON value's kind for error messages ("a string", "an array", ...).</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => value.ValueKind.ToString(),
    };
}
