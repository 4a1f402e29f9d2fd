using System.Net;
using System.Security.Cryptography;
using GptjAspire.Integration.Tests.Otlp;

namespace GptjAspire.Integration.Tests;

[Collection(RunningSystemCollection.Name)]
public sealed class TracingTests(RunningSystem system)
{
    [Fact]
    public async Task One_request_is_one_trace_across_gateway_preprocessor_and_backend()
    {
        var traceId = await CompleteInNewTraceAsync("""{"prompt": "Xin chào", "max_tokens": 4, "stream": true}""");

        string[] services = ["gateway", "preprocessor", "backend"];
        var spans = await system.Telemetry.WaitForAsync(
            all => services.All(s => all.Any(span => span.TraceId == traceId && span.Service == s)), TimeSpan.FromSeconds(30));
        var inTrace = spans.Where(s => s.TraceId == traceId).ToList();
        foreach (var service in services)
            Assert.True(inTrace.Any(s => s.Service == service),
                $"no span of {service} in trace {traceId}; spans in it: {string.Join(", ", inTrace.Select(s => $"{s.Service}/{s.Name}"))}");
        Assert.Contains(inTrace, s => s.Service == "backend" && s.Scope == "GptjAspire.CpuBackend.Generation");
    }

    [Fact]
    public async Task Whole_result_generation_reaches_the_backend_as_a_stream_because_Triton_refuses_ModelInfer_for_decoupled_models()
    {
        var traceId = await CompleteInNewTraceAsync("""{"prompt": "Xin chào", "max_tokens": 4, "n": 2}""");

        // The backend's server spans of KServe calls are named for the route, "POST /inference.GRPCInferenceService/<method>".
        const string service = "/inference.GRPCInferenceService/";
        bool IsBackendRpc(ReceivedSpan span) => span.TraceId == traceId && span.Service == "backend" && span.Name.Contains(service, StringComparison.Ordinal);
        var spans = await system.Telemetry.WaitForAsync(all => all.Any(IsBackendRpc), TimeSpan.FromSeconds(30));
        var backendMethods = spans
            .Where(IsBackendRpc)
            .Select(s => s.Name[(s.Name.IndexOf(service, StringComparison.Ordinal) + service.Length)..])
            .ToList();
        Assert.Contains("ModelStreamInfer", backendMethods);
        Assert.DoesNotContain("ModelInfer", backendMethods);
    }

    /// <summary>POSTs a completion as part of a new caller trace (W3C Trace Context, which every hop must
    /// continue), reads the whole response, and returns the trace id.</summary>
    private async Task<string> CompleteInNewTraceAsync(string body)
    {
        var traceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Json.Body(body) };
        request.Headers.Add("traceparent", $"00-{traceId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}-01");

        using var response = await system.Gateway.SendAsync(request);
        await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return traceId;
    }
}
