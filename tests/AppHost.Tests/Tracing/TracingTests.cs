using System.Net;
using System.Security.Cryptography;
using GptjAspire.AppHost.Tests.Api;
using GptjAspire.AppHost.Tests.Otlp;
using GptjAspire.AppHost.Tests.Running;

namespace GptjAspire.AppHost.Tests.Tracing;

[Collection(AppCollection.Name)]
public sealed class TracingTests(GptjApp system)
{
    // Spans arrive in export batches; a guard against waiting forever, not a speed requirement.
    private static readonly TimeSpan ExportGuard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task One_predict_is_one_trace_across_the_three_service_instances_Aspire_started_and_no_span_of_it_failed()
    {
        var traceId = await SendInNewTraceAsync("/predict", """{"text": "Hà Nội là thủ đô của", "n_samples": 2}""");

        var spans = await system.Telemetry.WaitForAsync(
            all => GptjApp.Services.All(s => all.Any(span => span.TraceId == traceId && span.Service == s)), ExportGuard);
        var inTrace = spans.Where(s => s.TraceId == traceId).ToList();
        var described = string.Join(", ", inTrace.Select(s => $"{s.Service}[{s.ServiceInstanceId}]/{s.Name}{(s.Error is null ? "" : $" ERROR {s.Error}")}"));

        // Aspire names each service instance (OTEL_RESOURCE_ATTRIBUTES service.instance.id); every span of the trace
        // comes from exactly those three instances, one per service.
        var expected = new HashSet<string>();
        foreach (var service in GptjApp.Services)
            expected.Add(await system.ServiceInstanceIdAsync(service));
        Assert.True(expected.SetEquals(inTrace.Select(s => s.ServiceInstanceId)),
            $"instances in the trace are not the three Aspire started ({string.Join(", ", expected)}): {described}");
        foreach (var service in GptjApp.Services)
            Assert.Single(inTrace.Where(s => s.Service == service).Select(s => s.ServiceInstanceId).Distinct());

        Assert.True(inTrace.All(s => s.Error is null), $"a span of a successful request has status Error: {described}");
        Assert.Contains(inTrace, s => s.Service == GptjApp.BackendResource && s.Scope == "GptjAspire.CpuBackend.Generation");
    }

    [Fact]
    public async Task Whole_result_generation_reaches_the_backend_as_a_stream_because_Triton_refuses_ModelInfer_for_decoupled_models()
    {
        var traceId = await SendInNewTraceAsync("/v1/completions", """{"prompt": "Xin chào", "max_tokens": 4, "n": 2}""");

        bool IsBackendRpc(ReceivedSpan span) => span.TraceId == traceId && span.Service == GptjApp.BackendResource && span.Attributes.ContainsKey("rpc.method");
        var spans = await system.Telemetry.WaitForAsync(all => all.Any(IsBackendRpc), ExportGuard);
        var backendMethods = spans
            .Where(IsBackendRpc)
            .Select(s => s.Attributes["rpc.method"])
            .ToList();
        Assert.Contains("ModelStreamInfer", backendMethods);
        Assert.DoesNotContain("ModelInfer", backendMethods);
    }

    /// <summary>POSTs <paramref name="body"/> to <paramref name="path"/> as part of a new caller trace (W3C Trace Context,
    /// which every hop must continue), reads the whole response, and returns the trace id.</summary>
    private async Task<string> SendInNewTraceAsync(string path, string body)
    {
        var traceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json.Body(body) };
        request.Headers.Add("traceparent", $"00-{traceId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}-01");

        using var response = await system.Gateway.SendAsync(request);
        await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return traceId;
    }
}
