using GptjAspire.ServiceDefaults;

namespace GptjAspire.Preprocessor.Backend;

/// <summary>Polls the backend's model readiness: often until ready, then less often, so a restarted backend is picked up without restarting the Preprocessor.</summary>
public sealed class BackendMonitor(BackendModel backend) : BackgroundService
{
    static readonly TimeSpan WhileNotReady = TimeSpan.FromMilliseconds(500);
    static readonly TimeSpan WhileReady = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                BackendState state;
                // A readiness poll every 2 s is a probe, not work: keep it out of the traces on both sides.
                using (Extensions.StartUntraced("backend readiness poll"))
                {
                    state = await backend.RefreshAsync(TimeSpan.FromSeconds(5), stoppingToken);
                }
                await Task.Delay(state.Ready ? WhileReady : WhileNotReady, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }
}
