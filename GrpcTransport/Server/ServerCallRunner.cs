using System.Diagnostics;
using GptjAspire.GrpcTransport.Wire;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GptjAspire.GrpcTransport.Server;

/// <summary>Runs one gRPC call around a handler: protocol checks, deadline, span, and mapping the outcome to a status.</summary>
internal static partial class ServerCallRunner
{
    public static async Task RunAsync(HttpContext http, string service, string method, Func<HttpServerCallContext, Task> handler)
    {
        if (!Accept(http))
        {
            return;
        }
        var options = http.RequestServices.GetRequiredService<IOptions<GrpcServerOptions>>().Value;
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("GptjAspire.GrpcTransport.Server");
        var fullName = $"/{service}/{method}";
        using var activity = GrpcTelemetry.StartCall(ActivityKind.Server, service, method, ParentContext(http));

        HttpServerCallContext? context = null;
        Status status;
        try
        {
            context = new HttpServerCallContext(http, options, fullName);
            RejectUnsupportedEncoding(http);
            await handler(context).ConfigureAwait(false);
            status = context.Status;
        }
        catch (RpcException e)
        {
            status = e.Status;
            foreach (var entry in e.Trailers)
            {
                context?.ResponseTrailers.Add(entry);
            }
        }
        catch (Exception e) when (context is { DeadlineExceeded: true })
        {
            LogEndedByDeadline(logger, fullName, e.GetType().Name);
            status = new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded");
        }
        catch (Exception e) when (http.RequestAborted.IsCancellationRequested)
        {
            LogEndedByClient(logger, fullName, e.GetType().Name);
            status = new Status(StatusCode.Cancelled, "Cancelled by the client.");
        }
        catch (Exception e)
        {
            LogHandlerFailed(logger, e, fullName);
            status = new Status(StatusCode.Internal, options.EnableDetailedErrors
                ? $"Exception was thrown by handler. {e.GetType().Name}: {e.Message}"
                : "Exception was thrown by handler.");
        }

        if (context is { DeadlineExceeded: true })
        {
            // The client has given up at its deadline; whatever the handler produced is no longer wanted.
            status = new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded");
        }
        if (!http.RequestAborted.IsCancellationRequested)
        {
            if (context is not null)
            {
                context.WriteStatus(status);
            }
            else
            {
                WriteTrailersOnly(http, status);
            }
        }
        context?.Dispose();
        GrpcTelemetry.Stop(activity, status);
    }

    /// <summary>Answers a gRPC request for a service or method this server does not have with UNIMPLEMENTED; anything else is simply not found.</summary>
    public static Task RunUnimplementedAsync(HttpContext http, string detail)
    {
        if (!GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
        }
        else if (Accept(http))
        {
            WriteTrailersOnly(http, new Status(StatusCode.Unimplemented, detail));
        }
        return Task.CompletedTask;
    }

    /// <summary>Refuses requests that are not gRPC over HTTP/2 with the HTTP status the spec names; prepares the response otherwise.</summary>
    private static bool Accept(HttpContext http)
    {
        if (!GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
        {
            // PROTOCOL-HTTP2.md: a Content-Type that is not application/grpc should get 415.
            http.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return false;
        }
        if (!HttpProtocol.IsHttp2(http.Request.Protocol) && !HttpProtocol.IsHttp3(http.Request.Protocol))
        {
            http.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            http.Response.Headers.Upgrade = "h2c";
            return false;
        }
        HttpServerCallContext.RemoveBodyLimits(http);
        http.Response.ContentType = GrpcProtocol.ContentType;
        return true;
    }

    private static void RejectUnsupportedEncoding(HttpContext http)
    {
        var encoding = http.Request.Headers[GrpcProtocol.EncodingHeader].ToString();
        if (encoding.Length > 0 && encoding != GrpcProtocol.IdentityEncoding)
        {
            // PROTOCOL-HTTP2.md: an unsupported grpc-encoding is UNIMPLEMENTED, with grpc-accept-encoding listing what we take.
            http.Response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.IdentityEncoding;
            throw new RpcException(new Status(StatusCode.Unimplemented, $"Unsupported grpc-encoding value \"{encoding}\"; supported: identity."));
        }
    }

    private static void WriteTrailersOnly(HttpContext http, Status status)
    {
        http.Response.Headers[GrpcProtocol.StatusHeader] = ((int)status.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        http.Response.Headers[GrpcProtocol.MessageHeader] = StatusMessageEncoding.Encode(status.Detail);
    }

    /// <summary>The caller's trace context: ASP.NET Core's request activity when it made one, else the W3C headers themselves.</summary>
    private static ActivityContext ParentContext(HttpContext http)
    {
        if (Activity.Current is { } current)
        {
            return current.Context;
        }
        var traceParent = http.Request.Headers["traceparent"].ToString();
        var traceState = http.Request.Headers["tracestate"].ToString();
        return ActivityContext.TryParse(traceParent, traceState.Length == 0 ? null : traceState, isRemote: true, out var parent)
            ? parent
            : default;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "gRPC handler for {Method} threw")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string method);

    [LoggerMessage(Level = LogLevel.Debug, Message = "gRPC call {Method} ended by its deadline ({ExceptionType})")]
    private static partial void LogEndedByDeadline(ILogger logger, string method, string exceptionType);

    [LoggerMessage(Level = LogLevel.Debug, Message = "gRPC call {Method} ended by the client ({ExceptionType})")]
    private static partial void LogEndedByClient(ILogger logger, string method, string exceptionType);
}
