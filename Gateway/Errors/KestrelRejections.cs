using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Errors;

/// <summary>Gives the requests Kestrel refuses before any application code runs (a malformed request line or header, a URL
/// or headers over its limits, an unknown HTTP version) the same JSON error body as every other rejection.</summary>
/// <remarks>
/// Kestrel answers those with a bare status line and <c>Content-Length: 0</c>, then closes the connection, and offers
/// no hook for the body. A connection middleware sees every byte Kestrel writes (<see cref="RejectionRewriter"/>): a flush that is exactly such an
/// HTTP/1.1 error head is rewritten with our body; anything else (every application response, HTTP/2 frames) passes
/// through untouched after its first bytes show it is not one.
/// </remarks>
public static class KestrelRejections
{
    public static IServiceCollection AddKestrelRejectionBodies(this IServiceCollection services) =>
        services.Configure<KestrelServerOptions>(kestrel => kestrel.ConfigureEndpointDefaults(listen =>
        {
            var json = listen.ApplicationServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
            var limits = kestrel.Limits;
            listen.Use(next => async connection =>
            {
                var transport = connection.Transport;
                var output = new RejectionRewriter(transport.Output.AsStream(), head => Rewrite(head, limits, json));
                connection.Transport = new DuplexPipe(transport.Input, PipeWriter.Create(output));
                try
                {
                    await next(connection);
                }
                finally
                {
                    connection.Transport = transport;
                }
            });
        }));

    /// <summary>What a client that sent its request too slowly is told, whether its headers or its body were late.</summary>
    public const string TooSlow = "The request did not arrive in time: the client sent it too slowly.";

    /// <summary>The status line's code for each rejection Kestrel makes before the application, and what to tell the client.</summary>
    static ApiException? Rejection(int status, KestrelServerLimits limits) => status switch
    {
        StatusCodes.Status400BadRequest => new(ApiErrorKind.MalformedHttp,
            "The request is not valid HTTP/1.1: its request line, a header (such as Host, Content-Length or Transfer-Encoding) or its framing is malformed."),
        StatusCodes.Status408RequestTimeout => new(ApiErrorKind.RequestTimeout, TooSlow),
        StatusCodes.Status414UriTooLong => new(ApiErrorKind.UriTooLong,
            string.Create(CultureInfo.InvariantCulture, $"The request line is longer than {limits.MaxRequestLineSize} bytes.")),
        StatusCodes.Status431RequestHeaderFieldsTooLarge => new(ApiErrorKind.HeadersTooLarge, string.Create(CultureInfo.InvariantCulture,
            $"The request headers are larger than {limits.MaxRequestHeadersTotalSize} bytes or more than {limits.MaxRequestHeaderCount} fields.")),
        StatusCodes.Status505HttpVersionNotsupported => new(ApiErrorKind.HttpVersionNotSupported, "Only HTTP/1.0 and HTTP/1.1 are served (this endpoint is plain HTTP, where HTTP/2 would need TLS to be negotiated)."),
        _ => null,
    };

    const string EmptyBody = "\r\nContent-Length: 0\r\n";

    /// <summary>The replacement for <paramref name="head"/> when it is a whole error response without a body, else null.</summary>
    static byte[]? Rewrite(ReadOnlySpan<byte> head, KestrelServerLimits limits, JsonSerializerOptions json)
    {
        if (!head.EndsWith("\r\n\r\n"u8) || head.Length < "HTTP/1.1 400 ".Length)
            return null;
        var text = Encoding.Latin1.GetString(head);
        if (!text.Contains(EmptyBody, StringComparison.OrdinalIgnoreCase)
            || !int.TryParse(text.AsSpan("HTTP/1.1 ".Length, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status)
            || Rejection(status, limits) is not { } rejection)
            return null;
        var body = JsonSerializer.SerializeToUtf8Bytes(ApiErrorMapping.Body(rejection), json);
        var start = text.IndexOf(EmptyBody, StringComparison.OrdinalIgnoreCase);
        var rewritten = string.Create(CultureInfo.InvariantCulture,
            $"{text[..start]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {body.Length}\r\n{text[(start + EmptyBody.Length)..]}");
        return [.. Encoding.Latin1.GetBytes(rewritten), .. body];
    }

    sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
