using System.Collections.Concurrent;

namespace GptjAspire.GrpcTransport.Tests.TestService;

/// <summary>Remembers how each named call ended on the server, so a test can wait for the server's view without polling.</summary>
public sealed class CallLedger
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<bool>> _ends = new();

    public void Ended(string callId, bool cancelled)
    {
        if (callId.Length > 0)
        {
            Entry(callId).TrySetResult(cancelled);
        }
    }

    public Task<bool> WaitAsync(string callId, CancellationToken cancellationToken) => Entry(callId).Task.WaitAsync(cancellationToken);

    private TaskCompletionSource<bool> Entry(string callId) =>
        _ends.GetOrAdd(callId, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
}
