using Microsoft.AspNetCore.Http;

namespace GptjAspire.GrpcTransport;

/// <summary>What a server handler knows about its call and how it shapes the response (headers, trailers, status).</summary>
public abstract class ServerCallContext
{
    /// <summary>The method path, "/service/method".</summary>
    public abstract string Method { get; }

    public abstract string Host { get; }

    /// <summary>The caller's address, e.g. "ipv4:127.0.0.1:50412".</summary>
    public abstract string Peer { get; }

    /// <summary>The client's deadline (UTC), or <see cref="DateTime.MaxValue"/> when it set none.</summary>
    public abstract DateTime Deadline { get; }

    public abstract Metadata RequestHeaders { get; }

    /// <summary>Cancelled when the client cancels (RST_STREAM), disconnects or the deadline passes.</summary>
    public abstract CancellationToken CancellationToken { get; }

    public abstract Metadata ResponseTrailers { get; }

    /// <summary>The status sent when the handler returns normally; defaults to OK.</summary>
    public abstract Status Status { get; set; }

    /// <summary>Sends response headers now; allowed once, before the first response message.</summary>
    public abstract Task WriteResponseHeadersAsync(Metadata responseHeaders);

    public abstract HttpContext GetHttpContext();
}
