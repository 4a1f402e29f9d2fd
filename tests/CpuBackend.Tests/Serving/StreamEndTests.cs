using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>
/// A successful streamed generation ends the ModelStreamInfer call cleanly: the client half-closes (a one-request stream
/// right after its request) and reads the server's trailers, so neither the client's nor the server's span is an error
/// or a cancellation (as the OpenTelemetry instrumentation ServiceDefaults uses records them).
/// </summary>
public sealed class StreamEndTests
{
    private static readonly ActivitySource TestSource = new("GptjAspire.CpuBackend.Tests.StreamEnd");

    [Fact]
    public async Task Successful_streamed_generation_ends_OK_on_both_sides()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(TestSource.Name)
            .AddAspNetCoreInstrumentation()
            .AddGrpcClientInstrumentation()
            .AddHttpClientInstrumentation()
            .AddInMemoryExporter(spans)
            .Build();
        await using var backend = await BackendHost.StartAsync();

        ActivityTraceId trace;
        using (var root = TestSource.StartActivity("stream a generation"))
        {
            trace = root!.TraceId;
            var responses = 0;
            await foreach (var _ in backend.Client.StreamInferAsync(Requests.Generate([5, 6], 8, streaming: true, id: "stream-end")))
            {
                responses++;
            }
            Assert.Equal(8, responses);
        }
        // Both spans end after the caller has its last response, in either order: the server's when its handler returns,
        // the client's when the stream's reader has read the trailers in the background.
        List<Activity> call;
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            lock (spans)
            {
                call = spans.Where(s => s.TraceId == trace && s.DisplayName.Contains("ModelStreamInfer", StringComparison.Ordinal)).ToList();
            }
            if (call.Any(s => s.Kind == ActivityKind.Server) && call.Any(s => s.Kind == ActivityKind.Client))
            {
                break;
            }
            await Task.Delay(20, limit.Token);
        }
        Assert.Contains(call, s => s.Kind == ActivityKind.Client);
        Assert.Contains(call, s => s.Kind == ActivityKind.Server);
        Assert.All(call, s => Assert.True(s.Status != ActivityStatusCode.Error, $"{s.Kind} span {s.DisplayName}: {s.Status} {s.StatusDescription}"));
        // The client read the server's OK status from the trailers (a call disposed early records CANCELLED here).
        var client = call.Single(s => s.Kind == ActivityKind.Client);
        Assert.True(Equals(client.GetTagItem("rpc.response.status_code"), "OK"), string.Join(", ", client.TagObjects.Select(t => $"{t.Key}={t.Value}")));
    }
}
