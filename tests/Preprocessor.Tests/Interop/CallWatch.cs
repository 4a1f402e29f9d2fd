using System.Collections.Concurrent;
using GptjAspire.Gptj.V1;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GptjAspire.Preprocessor.Tests.Interop;

/// <summary>
/// A server interceptor on the Preprocessor under test: records how each generation call ended on the server (by
/// request id: whether the call's cancellation token had fired, as it does at the deadline or on a client's reset), and
/// sends every <c>-bin</c> request header back as a trailer, so a peer can check binary metadata both ways.
/// </summary>
internal sealed class CallWatch : Interceptor
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<bool>> _ended = new();

    /// <summary>Whether the server's token had fired when call <paramref name="requestId"/> ended; bounded so a call that never ends fails the test.</summary>
    public Task<bool> EndedCancelledAsync(string requestId) => Of(requestId).Task.WaitAsync(TimeSpan.FromMinutes(1));

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        EchoBinaryHeaders(context);
        try
        {
            return await continuation(request, context);
        }
        finally
        {
            Record(request, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        EchoBinaryHeaders(context);
        try
        {
            await continuation(request, responseStream, context);
        }
        finally
        {
            Record(request, context);
        }
    }

    private static void EchoBinaryHeaders(ServerCallContext context)
    {
        foreach (var header in context.RequestHeaders.Where(h => h.IsBinary))
        {
            context.ResponseTrailers.Add(header.Key, header.ValueBytes);
        }
    }

    private void Record(object request, ServerCallContext context)
    {
        if (request is GenerateRequest { RequestId.Length: > 0 } generate)
        {
            Of(generate.RequestId).TrySetResult(context.CancellationToken.IsCancellationRequested);
        }
    }

    private TaskCompletionSource<bool> Of(string requestId) =>
        _ended.GetOrAdd(requestId, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
}
