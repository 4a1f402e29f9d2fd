using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using GptjAspire.GrpcTransport.Wire;
using Google.Protobuf;

namespace GptjAspire.GrpcTransport.Client;

/// <summary>One client call over HttpClient: sends the request, reads messages and the final status, and resets the stream when cancelled.</summary>
internal sealed class GrpcCall<TRequest, TResponse> : IClientCall
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    private readonly GrpcChannel _channel;
    private readonly Method<TRequest, TResponse> _method;
    private readonly CallOptions _options;
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource<Status> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _frameHeader = new byte[GrpcProtocol.FrameHeaderSize];
    private readonly object _gate = new();
    private CancellationTokenSource? _deadline;
    private CancellationTokenRegistration _deadlineRegistration;
    private CancellationTokenRegistration _userRegistration;
    private PushStreamContent? _requestContent;
    private HttpResponseMessage? _response;
    private Stream? _responseStream;
    private Activity? _activity;
    private volatile Outcome? _outcome;
    private Task<Metadata>? _responseHeaders;

    public GrpcCall(GrpcChannel channel, Method<TRequest, TResponse> method, CallOptions options)
    {
        _channel = channel;
        _method = method;
        _options = options;
    }

    public Task<Metadata> ResponseHeadersAsync => _responseHeaders ?? throw new InvalidOperationException("The call has not started.");

    /// <summary>Completes with the final status, for writers that need to stop when the call ends.</summary>
    public Task<Status> Finished => _finished.Task;

    public GrpcChannelOptions ChannelOptions => _channel.Options;

    public void StartWithMessage(TRequest request)
    {
        byte[] frame;
        try
        {
            frame = MessageFraming.Frame(request, _channel.Options.MaxSendMessageSize);
        }
        catch (RpcException e)
        {
            Finish(e.Status, new Metadata());
            _responseHeaders = Task.FromException<Metadata>(e);
            return;
        }
        var content = new ByteArrayContent(frame);
        content.Headers.ContentType = new MediaTypeHeaderValue(GrpcProtocol.ContentType);
        Start(content);
    }

    public IClientStreamWriter<TRequest> StartStreaming()
    {
        _requestContent = new PushStreamContent();
        Start(_requestContent);
        return new RequestStreamWriter<TRequest, TResponse>(this, _requestContent);
    }

    private void Start(HttpContent content)
    {
        var previous = Activity.Current;
        _activity = GrpcTelemetry.StartCall(ActivityKind.Client, _method.ServiceName, _method.Name);
        try
        {
            TimeSpan? timeout = null;
            if (_options.Deadline is { } deadline && deadline != DateTime.MaxValue)
            {
                timeout = deadline.ToUniversalTime() - DateTime.UtcNow;
                if (timeout <= TimeSpan.Zero)
                {
                    // Already past the deadline: fail without sending, as other gRPC clients do.
                    var status = Finish(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"), new Metadata());
                    _responseHeaders = Task.FromException<Metadata>(new RpcException(status));
                    return;
                }
            }
            var request = BuildRequest(content, timeout);
            if (timeout is { } t)
            {
                _deadline = new CancellationTokenSource(t);
                _deadlineRegistration = _deadline.Token.UnsafeRegister(static s => ((GrpcCall<TRequest, TResponse>)s!).Abort(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded")), this);
            }
            if (_options.CancellationToken.CanBeCanceled)
            {
                _userRegistration = _options.CancellationToken.UnsafeRegister(static s => ((GrpcCall<TRequest, TResponse>)s!).Abort(CancelledByClient), this);
            }
            var send = _channel.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _abort.Token);
            _responseHeaders = ReceiveHeadersAsync(send);
        }
        finally
        {
            // The span stays current for the HTTP request only, not in the caller's context.
            Activity.Current = previous;
        }
    }

    private static Status CancelledByClient => new(StatusCode.Cancelled, "Call canceled by the client.");

    private HttpRequestMessage BuildRequest(HttpContent content, TimeSpan? timeout)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_channel.Address, _method.FullName))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        var headers = request.Headers;
        headers.TryAddWithoutValidation(GrpcProtocol.TeHeader, GrpcProtocol.TeTrailers);
        headers.TryAddWithoutValidation("user-agent", GrpcProtocol.UserAgent);
        if (timeout is { } t)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcTimeout.Format(t));
        }
        if (_activity is not null)
        {
            // W3C Trace Context in request metadata, so the server's span joins this trace.
            headers.TryAddWithoutValidation("traceparent", _activity.Id);
            if (!string.IsNullOrEmpty(_activity.TraceStateString))
            {
                headers.TryAddWithoutValidation("tracestate", _activity.TraceStateString);
            }
        }
        if (_options.Headers is { } metadata)
        {
            foreach (var entry in metadata)
            {
                if (GrpcProtocol.IsReservedHeader(entry.Key))
                {
                    throw new ArgumentException($"Metadata key \"{entry.Key}\" is reserved by gRPC.", nameof(_options));
                }
                headers.TryAddWithoutValidation(entry.Key, MetadataHeaders.ToHeaderValue(entry));
            }
        }
        return request;
    }

    private async Task<Metadata> ReceiveHeadersAsync(Task<HttpResponseMessage> send)
    {
        HttpResponseMessage response;
        try
        {
            response = await send.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Fail(e, "Error starting gRPC call.");
        }
        lock (_gate)
        {
            if (_outcome is { } ended)
            {
                response.Dispose();
                throw new RpcException(ended.Status, ended.Trailers);
            }
            _response = response;
        }
        var headers = ToMetadata(response.Headers);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new RpcException(Fail(new Status(FromHttpStatus(response.StatusCode), $"Bad gRPC response. HTTP status code: {(int)response.StatusCode}")));
        }
        if (response.Headers.Contains(GrpcProtocol.StatusHeader))
        {
            // Trailers-only response: the status and trailers came in the headers frame (PROTOCOL-HTTP2.md).
            Finish(ReadStatus(response.Headers), headers);
            Cleanup();
            return headers;
        }
        var contentType = response.Content.Headers.ContentType?.ToString();
        if (!GrpcProtocol.IsGrpcContentType(contentType))
        {
            throw new RpcException(Fail(new Status(StatusCode.Internal, $"Bad gRPC response. Content-Type \"{contentType}\" is not application/grpc.")));
        }
        return headers;
    }

    /// <summary>The next response message, or null after an OK status; a non-OK status is thrown.</summary>
    public async Task<TResponse?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((GrpcCall<TRequest, TResponse>)s!).Abort(CancelledByClient), this)
            : default;
        await ResponseHeadersAsync.ConfigureAwait(false);
        if (_outcome is { } ended)
        {
            return ended.Status.StatusCode == StatusCode.OK ? null : throw new RpcException(ended.Status, ended.Trailers);
        }
        TResponse? message;
        try
        {
            _responseStream ??= await _response!.Content.ReadAsStreamAsync(_abort.Token).ConfigureAwait(false);
            message = await MessageFraming.ReadAsync(_responseStream, _frameHeader, _method.ResponseParser, _channel.Options.MaxReceiveMessageSize, _abort.Token).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw Failed(Fail(e.Status));
        }
        catch (Exception e)
        {
            throw Fail(e, "Error reading next message.");
        }
        if (message is not null)
        {
            return message;
        }
        var trailers = _response!.TrailingHeaders;
        var status = Finish(ReadStatus(trailers), ToMetadata(trailers));
        Cleanup();
        return status.StatusCode == StatusCode.OK ? null : throw Failed(status);
    }

    /// <summary>The one response of a unary or client-streaming call.</summary>
    public async Task<TResponse> ReadSingleResponseAsync()
    {
        var message = await ReadMessageAsync(default).ConfigureAwait(false)
            ?? throw new RpcException(new Status(StatusCode.Internal, "The server ended the call with OK but sent no response message."));
        if (await ReadMessageAsync(default).ConfigureAwait(false) is not null)
        {
            throw new RpcException(Fail(new Status(StatusCode.Internal, "The server sent more than one response message for a single-response method.")));
        }
        return message;
    }

    public Status GetStatus() => _outcome?.Status ?? throw new InvalidOperationException("The call is not complete; its status is not known yet.");

    public Metadata GetTrailers() => _outcome?.Trailers ?? throw new InvalidOperationException("The call is not complete; its trailers are not known yet.");

    public void Dispose()
    {
        Abort(new Status(StatusCode.Cancelled, "gRPC call disposed."));
        _userRegistration.Dispose();
        _deadlineRegistration.Dispose();
        _deadline?.Dispose();
    }

    /// <summary>Ends the call locally with a status and resets the HTTP/2 stream (RST_STREAM) if it is still open.</summary>
    private void Abort(Status status)
    {
        Finish(status, new Metadata());
        Cleanup();
    }

    private Status Fail(Status status)
    {
        var final = Finish(status, new Metadata());
        Cleanup();
        return final;
    }

    private RpcException Fail(Exception exception, string context)
    {
        var status = exception switch
        {
            OperationCanceledException => CancelledByClient,
            HttpRequestException or IOException => new Status(StatusCode.Unavailable, $"{context} {exception.GetType().Name}: {exception.Message}"),
            _ => new Status(StatusCode.Internal, $"{context} {exception.GetType().Name}: {exception.Message}"),
        };
        // If the call was already ended (deadline, cancellation, disposal) that status wins.
        return Failed(Fail(status));
    }

    /// <summary>Records the final status once; later outcomes lose to the first.</summary>
    private Status Finish(Status status, Metadata trailers)
    {
        lock (_gate)
        {
            if (_outcome is { } existing)
            {
                return existing.Status;
            }
            _outcome = new Outcome(status, trailers);
        }
        _finished.TrySetResult(status);
        GrpcTelemetry.Stop(_activity, status);
        return status;
    }

    /// <summary>Releases the HTTP exchange; disposing an unfinished response resets its stream.</summary>
    private void Cleanup()
    {
        if (_outcome is { Status.StatusCode: not StatusCode.OK })
        {
            _abort.Cancel();
        }
        _requestContent?.Complete();
        HttpResponseMessage? response;
        lock (_gate)
        {
            response = _response;
        }
        response?.Dispose();
        _deadlineRegistration.Unregister();
        _userRegistration.Unregister();
    }

    private RpcException Failed(Status status) => new(status, _outcome?.Trailers);

    private static Status ReadStatus(HttpHeaders headers)
    {
        if (!headers.TryGetValues(GrpcProtocol.StatusHeader, out var statusValues)
            || !int.TryParse(statusValues.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            return new Status(StatusCode.Internal, "The response carried no valid grpc-status.");
        }
        var message = headers.TryGetValues(GrpcProtocol.MessageHeader, out var messageValues)
            ? StatusMessageEncoding.Decode(string.Join(",", messageValues))
            : "";
        return new Status((StatusCode)code, message);
    }

    private static Metadata ToMetadata(HttpHeaders headers)
    {
        var metadata = new Metadata();
        foreach (var (name, values) in headers.NonValidated)
        {
            var key = name.ToLowerInvariant();
            foreach (var value in values)
            {
                MetadataHeaders.AddFromHeader(metadata, key, value);
            }
        }
        return metadata;
    }

    /// <summary>gRPC's mapping of HTTP status codes for responses that are not gRPC (doc/http-grpc-status-mapping.md).</summary>
    private static StatusCode FromHttpStatus(HttpStatusCode code) => code switch
    {
        HttpStatusCode.BadRequest => StatusCode.Internal,
        HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
        HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
        HttpStatusCode.NotFound => StatusCode.Unimplemented,
        HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    /// <summary>The final status and trailers, published as one reference so readers never see half of it.</summary>
    private sealed record Outcome(Status Status, Metadata Trailers);
}
