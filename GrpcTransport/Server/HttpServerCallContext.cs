using System.Net;
using System.Net.Sockets;
using GptjAspire.GrpcTransport.Wire;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace GptjAspire.GrpcTransport.Server;

/// <summary>The per-call state of one gRPC request served by ASP.NET Core.</summary>
internal sealed class HttpServerCallContext : ServerCallContext, IDisposable
{
    private readonly HttpContext _http;
    private readonly CancellationTokenSource? _deadlineSource;
    private readonly CancellationTokenSource? _linkedSource;
    private Metadata? _requestHeaders;

    public HttpServerCallContext(HttpContext http, GrpcServerOptions options, string method)
    {
        _http = http;
        Options = options;
        Method = method;
        Deadline = DateTime.MaxValue;
        CancellationToken = http.RequestAborted;

        var timeoutHeader = http.Request.Headers[GrpcProtocol.TimeoutHeader].ToString();
        if (timeoutHeader.Length > 0)
        {
            if (!GrpcTimeout.TryParse(timeoutHeader, out var timeout))
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"grpc-timeout header \"{timeoutHeader}\" is not a valid timeout."));
            }
            Deadline = DateTime.UtcNow + timeout;
            _deadlineSource = new CancellationTokenSource();
            // CancelAfter accepts at most ~49 days; a longer deadline never fires in practice.
            if (timeout.TotalMilliseconds < uint.MaxValue - 1)
            {
                _deadlineSource.CancelAfter(timeout);
            }
            _linkedSource = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, _deadlineSource.Token);
            CancellationToken = _linkedSource.Token;
        }
    }

    public GrpcServerOptions Options { get; }

    public override string Method { get; }

    public override string Host => _http.Request.Host.Value ?? "";

    public override string Peer => FormatPeer(_http.Connection.RemoteIpAddress, _http.Connection.RemotePort);

    public override DateTime Deadline { get; }

    public override Metadata RequestHeaders => _requestHeaders ??= ReadRequestHeaders();

    public override CancellationToken CancellationToken { get; }

    public override Metadata ResponseTrailers { get; } = new();

    public override Status Status { get; set; } = Status.DefaultSuccess;

    public bool DeadlineExceeded => _deadlineSource?.IsCancellationRequested == true;

    public bool ClientGone => _http.RequestAborted.IsCancellationRequested;

    public override async Task WriteResponseHeadersAsync(Metadata responseHeaders)
    {
        if (_http.Response.HasStarted)
        {
            throw new InvalidOperationException("Response headers can only be sent once per call, before the first message.");
        }
        foreach (var entry in responseHeaders)
        {
            if (GrpcProtocol.IsReservedHeader(entry.Key))
            {
                throw new InvalidOperationException($"Response header \"{entry.Key}\" is reserved by gRPC.");
            }
            _http.Response.Headers.Append(entry.Key, MetadataHeaders.ToHeaderValue(entry));
        }
        await _http.Response.StartAsync(CancellationToken).ConfigureAwait(false);
    }

    public override HttpContext GetHttpContext() => _http;

    /// <summary>Sends the final status: in trailers after messages, or as a trailers-only response when nothing was sent yet (PROTOCOL-HTTP2.md).</summary>
    public void WriteStatus(Status status)
    {
        var response = _http.Response;
        if (!response.HasStarted)
        {
            response.Headers[GrpcProtocol.StatusHeader] = ((int)status.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!string.IsNullOrEmpty(status.Detail))
            {
                response.Headers[GrpcProtocol.MessageHeader] = StatusMessageEncoding.Encode(status.Detail);
            }
            foreach (var entry in ResponseTrailers)
            {
                response.Headers.Append(entry.Key, MetadataHeaders.ToHeaderValue(entry));
            }
            return;
        }
        if (!response.SupportsTrailers())
        {
            // Only HTTP/1.1 lacks trailers, and gRPC requests over it are refused before any handler runs.
            throw new InvalidOperationException("The response does not support trailers.");
        }
        response.AppendTrailer(GrpcProtocol.StatusHeader, ((int)status.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(status.Detail))
        {
            response.AppendTrailer(GrpcProtocol.MessageHeader, StatusMessageEncoding.Encode(status.Detail));
        }
        foreach (var entry in ResponseTrailers)
        {
            response.AppendTrailer(entry.Key, MetadataHeaders.ToHeaderValue(entry));
        }
    }

    public void Dispose()
    {
        _linkedSource?.Dispose();
        _deadlineSource?.Dispose();
    }

    private Metadata ReadRequestHeaders()
    {
        var metadata = new Metadata();
        foreach (var header in _http.Request.Headers)
        {
            var name = header.Key.ToLowerInvariant();
            foreach (var value in header.Value)
            {
                if (value is not null)
                {
                    MetadataHeaders.AddFromHeader(metadata, name, value);
                }
            }
        }
        return metadata;
    }

    private static string FormatPeer(IPAddress? address, int port) => address switch
    {
        null => "unknown",
        { AddressFamily: AddressFamily.InterNetworkV6 } => $"ipv6:[{address}]:{port}",
        _ => $"ipv4:{address}:{port}",
    };

    internal static void RemoveBodyLimits(HttpContext http)
    {
        // Message size is governed by MaxReceiveMessageSize, and streams may idle between messages.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } maxSize)
        {
            maxSize.MaxRequestBodySize = null;
        }
        if (http.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } minRate)
        {
            minRate.MinDataRate = null;
        }
    }
}
