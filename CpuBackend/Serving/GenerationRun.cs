using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>Runs every batch row of an inference job on the scheduler at once and hands each step to a callback; one failing row cancels the others.</summary>
internal static class GenerationRun
{
    /// <param name="stepsAtEnd">The caller answers with the whole result: each row's steps come when the row completes.</param>
    public static async Task RunAsync(InferenceJob job, GenerationScheduler scheduler, Func<int, GenerationStep, Task> onStep, bool stepsAtEnd,
        CancellationToken cancellation)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var streams = new List<IAsyncEnumerable<GenerationStep>>(job.Rows.Count);
        try
        {
            // Generate queues at once (or throws QueueFullException), so rows already queued must be withdrawn on failure.
            foreach (var row in job.Rows)
            {
                streams.Add(scheduler.Generate(row, linked.Token, stepsAtEnd));
            }
        }
        catch
        {
            await linked.CancelAsync().ConfigureAwait(false);
            throw;
        }
        var rows = streams.Select((steps, row) => ConsumeAsync(row, steps, onStep, linked)).ToArray();
        try
        {
            await Task.WhenAll(rows).ConfigureAwait(false);
        }
        catch
        {
            // Report the row that failed first, not the cancellations it caused in the others.
            var cause = rows.Where(r => r.IsFaulted).Select(r => r.Exception!.InnerException!).FirstOrDefault(e => e is not OperationCanceledException);
            if (cause is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
            }
            throw;
        }
    }

    private static async Task ConsumeAsync(int row, IAsyncEnumerable<GenerationStep> steps, Func<int, GenerationStep, Task> onStep, CancellationTokenSource linked)
    {
        try
        {
            await foreach (var step in steps.WithCancellation(linked.Token).ConfigureAwait(false))
            {
                await onStep(row, step).ConfigureAwait(false);
            }
        }
        catch
        {
            await linked.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }
}
