using System.Diagnostics;
using GptjAspire.Gptj.V1;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GptjAspire.Preprocessor.Errors;

/// <summary>
/// Gives every failure of a gptj.v1 call its status by meaning (<see cref="BackendFailures"/>) and records what caused it
/// in the log and on the call's span, so that no backend text or exception reaches the caller (Grpc.AspNetCore would
/// otherwise answer an unexpected exception with UNKNOWN "Exception was thrown by handler.").
/// </summary>
public sealed partial class ErrorInterceptor(ILogger<ErrorInterceptor> logger) : Interceptor
{
    /// <summary>What the caller gets for a failure of this service's own (a bug): the exception is in the log.</summary>
    public const string FailedMessage = "The Preprocessor failed to process this request.";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception error) when (Translate(error, context) is { } status)
        {
            throw status;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception error) when (Translate(error, context) is { } status)
        {
            throw status;
        }
    }

    // Null leaves the exception as it is: a status this service chose (it already has its details), or a call the
    // caller cancelled or whose deadline passed (Grpc.AspNetCore answers those itself).
    RpcException? Translate(Exception error, ServerCallContext context)
    {
        if (context.CancellationToken.IsCancellationRequested || error is RpcException and not TritonClient.TritonException)
            return null;
        var status = BackendFailures.Map(error);
        if (status is not null)
            LogBackendFailure(context.Method, status.StatusCode, error.Message);
        else
        {
            status = RpcErrors.Create(StatusCode.Internal, FailedMessage, ErrorReason.PreprocessorFailed);
            LogFault(error, context.Method);
        }
        if (Activity.Current is { } span)
        {
            // OpenTelemetry semantic conventions: error.type on the span, the cause as the status description.
            span.SetTag("error.type", error.GetType().Name);
            span.SetStatus(ActivityStatusCode.Error, error.Message);
        }
        return status;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} failed at the backend, answered {StatusCode}: {Detail}")]
    partial void LogBackendFailure(string method, StatusCode statusCode, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} failed inside the Preprocessor")]
    partial void LogFault(Exception error, string method);
}
