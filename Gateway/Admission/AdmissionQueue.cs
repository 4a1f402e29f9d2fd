using GptjAspire.Gateway.Errors;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Admission;

/// <summary>Bounds the generations in flight and the requests waiting for a slot; a full queue is a 429 at once (TGI's admission step).</summary>
public sealed class AdmissionQueue(IOptions<GatewayOptions> options) : IDisposable
{
    readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrentRequests, options.Value.MaxConcurrentRequests);
    readonly int _maxWaiting = options.Value.MaxQueuedRequests;
    int _waiting;

    /// <summary>Waits for a generation slot; dispose the result to give it back.</summary>
    public async ValueTask<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        if (!_slots.Wait(0))
        {
            if (Interlocked.Increment(ref _waiting) > _maxWaiting)
            {
                Interlocked.Decrement(ref _waiting);
                throw new ApiException(ApiErrorKind.Overloaded,
                    $"Too many requests are waiting ({_maxWaiting}); retry after {ApiErrorMapping.RetryAfterSeconds} s.");
            }
            try
            {
                await _slots.WaitAsync(cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }
        return new Slot(_slots);
    }

    public void Dispose() => _slots.Dispose();

    sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                slots.Release();
        }
    }
}
