using System.Text;
using Microsoft.AspNetCore.Http.Features;

namespace GptjAspire.Gateway.Completions;

/// <summary>Writes a text/event-stream response (WHATWG HTML §9.2), flushing every event so tokens reach the client as they are made.</summary>
public sealed class ServerSentEvents(HttpResponse response)
{
    static readonly byte[] DataPrefix = "data: "u8.ToArray();
    static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    public Task StartAsync()
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        // Reverse proxies (nginx) would otherwise buffer the stream.
        response.Headers["X-Accel-Buffering"] = "no";
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return response.StartAsync();
    }

    /// <summary>Writes one event; <paramref name="data"/> is one line (JSON never contains a raw newline).</summary>
    public async Task WriteAsync(ReadOnlyMemory<byte> data, string? eventName = null, CancellationToken cancellationToken = default)
    {
        if (eventName is not null)
            await response.Body.WriteAsync(Encoding.UTF8.GetBytes($"event: {eventName}\n"), cancellationToken);
        await response.Body.WriteAsync(DataPrefix, cancellationToken);
        await response.Body.WriteAsync(data, cancellationToken);
        await response.Body.WriteAsync(EventEnd, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
