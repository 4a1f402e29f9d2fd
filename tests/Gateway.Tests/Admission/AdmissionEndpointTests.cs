using System.Net;
using GptjAspire.Gateway.Tests.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Tests.Admission;

/// <summary>Admission through the public API: refusals carry the estimate's Retry-After, bad settings stop the Gateway.</summary>
public sealed class AdmissionEndpointTests
{
    [Fact]
    public async Task A_stream_its_client_stops_midway_counts_the_tokens_it_got_towards_the_drain_rate()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var host = await GatewayHost.StartAsync(new()
        {
            ["Gateway:Admission:InitialDrainRate"] = "100",
            ["Gateway:Admission:DrainRateWindow"] = "00:00:10",
        }, time: time);
        host.Preprocessor.Stream = _ =>
        [
            new Gptj.V1.GenerateStreamResponse { Delta = new Gptj.V1.TextDelta { Index = 0, Text = "Hà", TokenIds = { 1, 2 } } },
            new Gptj.V1.GenerateStreamResponse { Delta = new Gptj.V1.TextDelta { Index = 0, Text = " Nội", TokenIds = { 3 } } },
        ];
        host.Preprocessor.HangAfterStream = true;
        var queue = host.Services.GetRequiredService<GptjAspire.Gateway.Admission.AdmissionQueue>();
        // A prompt of 4 token ids and 50 new tokens: 54 units admitted.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = Http.Json("""{"prompt": [5, 6, 7, 8], "max_tokens": 50, "stream": true}"""),
        };
        using (var response = await host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync());
            Assert.Equal(54, queue.OutstandingWork);
            time.Advance(TimeSpan.FromSeconds(2));
        }
        await host.Preprocessor.StreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The admission is released once the request's handler has returned, just after the call was cancelled.
        using var released = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (queue.OutstandingWork != 0)
            await Task.Delay(10, released.Token);

        // The prompt's 4 tokens and the 3 it sent, against 2 s of busy time after the seed's 1 s at 100/s.
        var decay = Math.Exp(-0.2);
        Assert.Equal((100 * decay + 7) / (decay + 10 * (1 - decay)), queue.DrainRate, 6);
    }

    [Fact]
    public async Task Overload_is_refused_at_once_with_a_retry_after_computed_from_the_drain_rate()
    {
        // A seed of 100 units/s that weighs an hour, so the few seconds of this test barely move it.
        await using var host = await GatewayHost.StartAsync(new()
        {
            ["Gateway:Admission:MaxQueueWait"] = "00:00:20",
            ["Gateway:Admission:InitialDrainRate"] = "100",
            ["Gateway:Admission:DrainRateWindow"] = "01:00:00",
        });
        host.Preprocessor.Stream = _ => [new Gptj.V1.GenerateStreamResponse { Delta = new Gptj.V1.TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.HangAfterStream = true;
        using var first = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Http.Json("""{"prompt": "a", "stream": true}""") };
        using var holding = await host.Client.SendAsync(first, HttpCompletionOption.ResponseHeadersRead);

        // 1 × (1 + 16) units held + 10 samples × 256 positions = 2,577 units: about 25.8 s at 100/s, 5.8 s past the bound.
        using var refused = await host.Client.PostAsync("/predict", Http.Json("""{"text": "b"}"""));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 6, 20);
        Assert.Equal("overloaded", (await refused.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
        Assert.Single(host.Preprocessor.Requests); // the held stream only
    }

    [Fact]
    public async Task A_burst_of_multi_prompt_requests_waits_for_slots_instead_of_overflowing_the_backend()
    {
        // Four slots: four backend requests at most, whatever the number of HTTP requests carrying them.
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:Admission:MaxConcurrentRequests"] = "4" });
        host.Preprocessor.GenerateDelay = TimeSpan.FromMilliseconds(200);

        var responses = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
            host.Client.PostAsync("/v1/completions", Http.Json("""{"prompt": ["a", "b", "c", "d"], "max_tokens": 4}"""))));

        Assert.All(responses, response => Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode));
        Assert.Equal(12, host.Preprocessor.Requests.Count);
        Assert.InRange(host.Preprocessor.MostConcurrentCalls, 1, 4);
        foreach (var response in responses)
            response.Dispose();
    }

    [Theory]
    [InlineData("Gateway:Admission:MaxQueueWait", "00:00:00")]
    [InlineData("Gateway:Admission:InitialDrainRate", "0")]
    [InlineData("Gateway:Admission:MaxConcurrentRequests", "0")]
    public async Task A_bad_admission_setting_stops_the_gateway_at_startup_naming_it(string key, string value)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(new() { [key] = value }));

        Assert.Contains(key, error.Message);
    }
}
