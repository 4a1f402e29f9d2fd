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
            throw ApiException.BodyTooLarge(maxBytes);

        var (buffer, length) = await ReadBoundedAsync(request.Body, request.ContentLength, maxBytes, cancellationToken);
        try
        {
            return Parse(buffer.AsMemory(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    static JsonElement Parse(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.Length == 0)
            throw ApiException.Invalid(null, "The request body is empty; send a JSON object.");
        if (FirstInvalidUtf8Byte(bytes.Span) is { } offset)
            throw ApiException.Invalid(null, $"The request body is not valid UTF-8 (invalid byte sequence at byte {offset}).");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException)
        {
            throw NotJson(bytes.Span);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw ApiException.Invalid(null, $"The request body must be a JSON object, not {Describe(document.RootElement)}.");
            JsonText.RequireValidUnicode(document.RootElement);
            // The clone owns its bytes: the pooled buffer goes back once this returns.
            return document.RootElement.Clone();
        }
    }

    // Deeper than any request of this API nests; a hostile body's nesting stays bounded.
    const int MaxDepth = 16;

    // Why the body failed to parse, in the Gateway's words: the parser's own messages speak of its options ("not supported in
    // this mode. Change the reader options."). The body is read again token by token to find the place.
    static ApiException NotJson(ReadOnlySpan<byte> bytes)
    {
        // One level more than the limit, so that going too deep is found here rather than thrown by the reader.
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = MaxDepth + 1 });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= MaxDepth)
                    return ApiException.Invalid(null, $"The request body is nested beyond the maximum depth of {MaxDepth} objects and arrays.");
            }
        }
        catch (JsonException e)
        {
            var line = e.LineNumber ?? 0;
            var column = e.BytePositionInLine ?? 0;
            return ApiException.Invalid(null, EndsAt(bytes, line, column)
                ? "The request body is not valid JSON: it ends before the JSON value is complete."
                : $"The request body is not valid JSON: the syntax is broken at line {line + 1}, byte {column + 1} of that line.");
        }
        return ApiException.Invalid(null, "The request body is not valid JSON.");
    }

    // Whether a position the parser gives (0-based line and byte in it) is the end of the body: nothing wrong was read, it stopped.
    static bool EndsAt(ReadOnlySpan<byte> bytes, long line, long column)
    {
        var start = 0;
        for (var i = 0L; i < line; i++)
        {
            var next = bytes[start..].IndexOf((byte)'\n');
            if (next < 0)
                return true;
            start += next + 1;
        }
        return start + column >= bytes.Length;
    }

    // Read into a pooled buffer of the declared size (one read for the usual small body, nothing left for the collector: a
    // growing 16 KB buffer per request was four fifths of what the Gateway allocated). Content-Length may be absent (chunked
    // upload), so the buffer grows as needed and the limit is enforced while reading too. The caller returns the buffer.
    static async Task<(byte[] Buffer, int Length)> ReadBoundedAsync(Stream body, long? contentLength, long maxBytes, CancellationToken cancellationToken)
    {
        // One byte over the limit is what proves a body too large; an array cannot hold more than Array.MaxLength.
        var largest = (int)Math.Min(maxBytes, Array.MaxLength - 1) + 1;
        // One byte over the declared length, so that the end of the body is seen without another buffer; but a declared
        // length is only a claim, so past FirstBufferLimit the buffer grows with the bytes that arrive.
        var first = Math.Min(contentLength + 1 ?? ChunkedStartBytes, Math.Min(FirstBufferLimit, largest));
        var buffer = ArrayPool<byte>.Shared.Rent((int)first);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                    buffer = length < largest ? Grow(buffer, largest) : throw ApiException.BodyTooLarge(maxBytes);
                int read;
                try
                {
                    read = await body.ReadAsync(buffer.AsMemory(length), cancellationToken);
                }
                catch (IOException e) when (e is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
                {
                    // Kestrel reports some framing errors as a bare IOException (a chunk size beyond 64 bits overflows
                    // inside its parser); with the client still connected they are the client's malformed request.
                    throw ApiException.Invalid(null, "The request body's chunked transfer encoding is malformed.");
                }
                if (read == 0)
                    return (buffer, length);
                length += read;
                if (length > maxBytes)
                    throw ApiException.BodyTooLarge(maxBytes);
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    const int ChunkedStartBytes = 4096;

    // A client that declares the limit (1 MB) and then sends nothing would otherwise hold that much of the Gateway's memory
    // per connection until Kestrel's minimum data rate ends it.
    const int FirstBufferLimit = 64 * 1024;

    static byte[] Grow(byte[] buffer, int largest)
    {
        var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(2L * buffer.Length, largest));
        buffer.CopyTo(larger, 0);
        ArrayPool<byte>.Shared.Return(buffer);
        return larger;
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
