using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace GptjAspire.AppHost.Tests;

/// <summary>The AppHost's CPU topology end to end: Gateway -> Preprocessor -> CpuBackend, through the public API.</summary>
public sealed class GptjAppTests(GptjAppFixture fixture) : IClassFixture<GptjAppFixture>
{
    // A guard against a hung request, not a speed requirement.
    private static readonly TimeSpan RequestGuard = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Every_service_reports_healthy_through_its_own_health_endpoint()
    {
        foreach (var service in GptjAppFixture.Services)
        {
            using var http = fixture.App.CreateHttpClient(service, "http");
            using var response = await http.GetAsync("/health");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{service}: /health answered {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task Predict_returns_the_requested_number_of_samples()
    {
        using var http = fixture.App.CreateHttpClient("gateway", "http");
        using var guard = new CancellationTokenSource(RequestGuard);

        using var response = await http.PostAsJsonAsync("/predict", new { text = "Hà Nội là", top_k = 50, top_p = 0.9, n_samples = 3 }, guard.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(guard.Token));
        var texts = body.RootElement.GetProperty("generated_texts").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Equal(3, texts.Count);
        Assert.All(texts, t => Assert.False(string.IsNullOrEmpty(t)));
    }

    [Fact]
    public async Task Completions_returns_text_for_the_gptj_model()
    {
        using var http = fixture.App.CreateHttpClient("gateway", "http");
        using var guard = new CancellationTokenSource(RequestGuard);

        using var response = await http.PostAsJsonAsync("/v1/completions", new { model = "gptj", prompt = "Việt Nam", max_tokens = 8 }, guard.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(guard.Token));
        var choice = body.RootElement.GetProperty("choices")[0];
        Assert.False(string.IsNullOrEmpty(choice.GetProperty("text").GetString()));
    }

    [Fact]
    public async Task Bad_request_is_a_400_that_names_the_field()
    {
        using var http = fixture.App.CreateHttpClient("gateway", "http");

        using var response = await http.PostAsJsonAsync("/predict", new { text = "xin chào", n_samples = -1 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("n_samples", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task One_trace_spans_the_gateway_the_preprocessor_and_the_backend()
    {
        using var http = fixture.App.CreateHttpClient("gateway", "http");
        using var guard = new CancellationTokenSource(RequestGuard);
        using var response = await http.PostAsJsonAsync("/v1/completions", new { model = "gptj", prompt = "Sài Gòn", max_tokens = 4 }, guard.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // The services export in batches; wait (bounded by the guard) until one trace has reached all
        // three services and forms a single tree: every span but one has its parent in the trace.
        string[] services = ["gateway", "preprocessor", "backend"];
        ReceivedSpan[]? trace = null;
        while (trace is null)
        {
            guard.Token.ThrowIfCancellationRequested();
            trace = fixture.Traces.Spans
                .GroupBy(s => s.TraceId)
                .Select(t => t.ToArray())
                .FirstOrDefault(t => services.All(service => t.Any(s => s.ServiceName == service)) && Roots(t).Count() == 1);
            if (trace is null)
            {
                await Task.Delay(200, guard.Token);
            }
        }

        // The request entered at the Gateway, so the Gateway's server span is the root.
        Assert.Equal("gateway", Roots(trace).Single().ServiceName);
    }

    private static IEnumerable<ReceivedSpan> Roots(ReceivedSpan[] trace)
    {
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        return trace.Where(s => !ids.Contains(s.ParentSpanId));
    }
}
