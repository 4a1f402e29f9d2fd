using System.Diagnostics;

namespace GptjAspire.GrpcTransport;

/// <summary>The ActivitySource of gRPC client and server spans, tagged after the OpenTelemetry rpc.* conventions.</summary>
public static class GrpcTelemetry
{
    public const string ActivitySourceName = "GptjAspire.Grpc";

    internal static readonly ActivitySource Source = new(ActivitySourceName);

    internal static Activity? StartCall(ActivityKind kind, string service, string method, ActivityContext parent = default)
    {
        if (!Source.HasListeners())
        {
            return null;
        }
        var activity = Source.StartActivity($"{service}/{method}", kind, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("rpc.system", "grpc");
            activity.SetTag("rpc.service", service);
            activity.SetTag("rpc.method", method);
        }
        return activity;
    }

    internal static void Stop(Activity? activity, Status status)
    {
        if (activity is null)
        {
            return;
        }
        activity.SetTag("rpc.grpc.status_code", (int)status.StatusCode);
        if (status.StatusCode != StatusCode.OK)
        {
            activity.SetStatus(ActivityStatusCode.Error, status.Detail);
        }
        activity.Dispose();
    }
}
