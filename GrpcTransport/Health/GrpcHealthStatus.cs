using System.Threading.Channels;
using GptjAspire.GrpcTransport.Health.V1;
using ServingStatus = GptjAspire.GrpcTransport.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace GptjAspire.GrpcTransport;

/// <summary>The serving status reported by grpc.health.v1.Health, per service name ("" is the whole server, SERVING from the start).</summary>
public sealed class GrpcHealthStatus
{
    private readonly object _gate = new();
    private readonly Dictionary<string, ServingStatus> _statuses = new(StringComparer.Ordinal) { [""] = ServingStatus.Serving };
    private readonly List<(string Service, Channel<ServingStatus> Changes)> _watchers = [];

    public void SetStatus(string service, ServingStatus status)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_gate)
        {
            _statuses[service] = status;
            foreach (var (watched, changes) in _watchers)
            {
                if (watched == service)
                {
                    changes.Writer.TryWrite(status);
                }
            }
        }
    }

    /// <summary>Forgets a service, so Check answers NOT_FOUND and watchers see SERVICE_UNKNOWN.</summary>
    public void ClearStatus(string service)
    {
        lock (_gate)
        {
            _statuses.Remove(service);
            foreach (var (watched, changes) in _watchers)
            {
                if (watched == service)
                {
                    changes.Writer.TryWrite(ServingStatus.ServiceUnknown);
                }
            }
        }
    }

    public ServingStatus? GetStatus(string service)
    {
        lock (_gate)
        {
            return _statuses.TryGetValue(service, out var status) ? status : null;
        }
    }

    /// <summary>The current status (SERVICE_UNKNOWN if unknown) followed by every change, until cancelled.</summary>
    internal async IAsyncEnumerable<ServingStatus> WatchAsync(string service, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Keep only the newest status if a slow watcher falls behind, as the protocol allows.
        var changes = Channel.CreateBounded<ServingStatus>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        var entry = (service, changes);
        lock (_gate)
        {
            changes.Writer.TryWrite(_statuses.TryGetValue(service, out var current) ? current : ServingStatus.ServiceUnknown);
            _watchers.Add(entry);
        }
        try
        {
            await foreach (var status in changes.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return status;
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(entry);
            }
        }
    }
}
