using System.Collections.Concurrent;
using GptjAspire.Gptj.V1;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GptjAspire.Preprocessor.Tests.Interop;

/// <summary>
/// A server interceptor on the Preprocessor under test: records how each generation call ended on the server (by
/// request id), and sends every <c>-bin</c> request header back as a trailer, so a peer can check binary metadata both ways.
/// </summary>
internal sealed class CallWatch : Interceptor
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<CallEnd>> _ended = new();

    /// <summary>How call <paramref name="requestId"/> ended on the server; bounded so a call that never ends fails the test.</summary>
    public Task<CallEnd> EndedAsync(string requestId) => Of(requestId).Task.WaitAsync(TimeSpan.FromMinutes(1));

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        EchoBinaryHeaders(context);
        try
        {
            var response = await continuation(request, context);
            Record(request, context, null);
            return response;
        }
        catch (Exception error)
        {
            Record(request, context, error);
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        EchoBinaryHeaders(context);
        try
        {
            await continuation(request, responseStream, context);
            Record(request, context, null);
        }
        catch (Exception error)
        {
            Record(request, context, error);
            throw;
        }
    }

    private static void EchoBinaryHeaders(ServerCallContext context)
    {
        foreach (var header in context.RequestHeaders.Where(h => h.IsBinary))
        {
            context.ResponseTrailers.Add(header.Key, header.ValueBytes);
        }
    }

    private void Record(object request, ServerCallContext context, Exception? error)
    {
        if (request is GenerateRequest { RequestId.Length: > 0 } generate)
        {
            Of(generate.RequestId).TrySetResult(new CallEnd(context.CancellationToken.IsCancellationRequested, (error as RpcException)?.StatusCode));
        }
    }

    private TaskCompletionSource<CallEnd> Of(string requestId) =>
        _ended.GetOrAdd(requestId, _ => new TaskCompletionSource<CallEnd>(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>How a call ended on the server: whether its cancellation token had fired (the client reset it, or the
/// server's deadline timer fired), and the status of the exception the handler ended with, if it threw one.</summary>
/// <remarks>The handler passes the call's deadline on to its backend call. Both deadlines are the same instant, so the
/// backend call's timer (DEADLINE_EXCEEDED from Grpc.Net.Client) and the server's own timer race to end the call.</remarks>
internal sealed record CallEnd(bool TokenFired, StatusCode? Failure)
{
    public bool AtDeadline => TokenFired || Failure == StatusCode.DeadlineExceeded;
}
