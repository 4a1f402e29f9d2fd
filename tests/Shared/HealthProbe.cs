using System.Diagnostics;

namespace GptjAspire.Testing;

/// <summary>Waits for a service that tests or benchmarks started as a child process to answer its <c>/health</c>.</summary>
internal static class HealthProbe
{
    /// <summary>Returns once <paramref name="health"/> answers 2xx; throws InvalidOperationException when the process exits
    /// first, OperationCanceledException when <paramref name="guard"/> passes (a bound so a broken start fails instead of hanging).</summary>
    public static async Task WaitAsync(Process process, Uri health, TimeSpan guard)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var deadline = new CancellationTokenSource(guard);
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"it exited with code {process.ExitCode}.");
            try
            {
                using var response = await client.GetAsync(health, deadline.Token);
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !deadline.IsCancellationRequested))
            {
                // Not listening, or not answering, yet.
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200), deadline.Token);
        }
    }
}
