using System.Collections.Concurrent;
using System.Diagnostics;
using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>The scheduler's generation spans (one per request, ended when the request leaves the scheduler), by request id.</summary>
internal sealed class GenerationSpans : IDisposable
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<Activity>> _ended = new();
    private readonly ActivityListener _listener;

    public GenerationSpans()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == GenerationTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("gen_ai.request.id") is string requestId)
                {
                    Of(requestId).TrySetResult(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The span of request <paramref name="requestId"/> once it ended; bounded so a request that never leaves the scheduler fails the test.</summary>
    public Task<Activity> EndedAsync(string requestId) => Of(requestId).Task.WaitAsync(TimeSpan.FromMinutes(2));

    private TaskCompletionSource<Activity> Of(string requestId) =>
        _ended.GetOrAdd(requestId, _ => new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously));

    public void Dispose() => _listener.Dispose();
}
