using System.Diagnostics;
using Grpc.Core;

namespace GptjAspire.TritonClient;

/// <summary>The ActivitySource of TritonClient spans: one per KServe call (and per request on a stream), tagged with the model.</summary>
public static class TritonTelemetry
{
    public const string ActivitySourceName = "GptjAspire.TritonClient";

    internal static readonly ActivitySource Source = new(ActivitySourceName);

    internal static Activity? Start(string method, string? model, string? requestId = null)
    {
        var activity = Source.StartActivity(model is null ? $"triton {method}" : $"triton {method} {model}", ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("triton.method", method);
            if (model is not null)
            {
                activity.SetTag("triton.model", model);
            }
            if (!string.IsNullOrEmpty(requestId))
            {
                activity.SetTag("triton.request_id", requestId);
            }
        }
        return activity;
    }

    internal static void Fail(Activity? activity, Exception error)
    {
        if (activity is null)
        {
            return;
        }
        if (error is RpcException rpc)
        {
            activity.SetTag("rpc.grpc.status_code", (int)rpc.StatusCode);
        }
        activity.SetStatus(ActivityStatusCode.Error, error.Message);
    }
}
