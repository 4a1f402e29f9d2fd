using System.Net;
using GptjAspire.Gateway.Tests.Api;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.RateLimiting;

/// <summary>One caller's requests in progress under many clients at once, in every shape a request ends: whole, streamed to
/// the end, abandoned mid-stream, refused as invalid. Every request ends exactly once, the Preprocessor never sees more of
/// the caller's calls at once than the limit, and afterwards every place is free again, and no more than the limit.</summary>
public sealed class InProgressLimitStressTests
{
    const int Clients = 16;
    const int RequestsPerClient = 40;
    const int Places = 4;

    enum Outcome { Served, Invalid, Refused, Abandoned }

    [Fact]
    public async Task Every_request_ends_once_the_limit_holds_and_every_place_comes_back()
    {
        await using var host = await GatewayHost.StartAsync(new()
        {
            ["Gateway:RateLimits:RequestsPerMinute"] = "0",
            ["Gateway:RateLimits:TokensPerMinute"] = "0",
            ["Gateway:RateLimits:ConcurrentRequests"] = Places.ToString(),
            // Admission never refuses here: this test is about the caller's limit.
            ["Gateway:Admission:InitialDrainRate"] = "100000000",
            ["Gateway:Admission:MaxConcurrentRequests"] = "1000",
        });
        host.Preprocessor.GenerateDelay = TimeSpan.FromMilliseconds(2);
        var outcomes = new int[Enum.GetValues<Outcome>().Length];
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        await Task.WhenAll(Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            for (var i = 0; i < RequestsPerClient; i++)
            {
                var outcome = ((client + i) % 4) switch
                {
                    0 => await WholeAsync(host, """{"prompt": "a", "max_tokens": 4}""", bound.Token),
                    1 => await StreamAsync(host, readToEnd: true, bound.Token),
                    2 => await StreamAsync(host, readToEnd: false, bound.Token),
                    _ => await WholeAsync(host, """{"prompt": "a", "max_tokens": -1}""", bound.Token),
                };
                Interlocked.Increment(ref outcomes[(int)outcome]);
            }
        })));

        Assert.Equal(Clients * RequestsPerClient, outcomes.Sum());
        Assert.True(outcomes[(int)Outcome.Refused] > 0, "no request was refused: the limit was never reached");
        Assert.True(outcomes[(int)Outcome.Served] > 0, "no request was served");
        Assert.InRange(host.Preprocessor.MostConcurrentCalls, 1, Places);

        // Every place came back (abandoned streams once the Gateway has noticed), and no more than the limit.
        host.Preprocessor.Stream = _ => [new Gptj.V1.GenerateStreamResponse { Delta = new Gptj.V1.TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.HangAfterStream = true;
        var holding = new List<HttpResponseMessage>();
        try
        {
            for (var i = 0; i < Places; i++)
            {
                var stream = await RateLimitTests.SendUntilNotConcurrencyLimitedAsync(host, StreamRequest);
                holding.Add(stream);
                Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
            }
            using var beyond = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a", "max_tokens": 4}"""), bound.Token);
            Assert.Equal(HttpStatusCode.TooManyRequests, beyond.StatusCode);
        }
        finally
        {
            holding.ForEach(response => response.Dispose());
        }
    }

    static HttpRequestMessage StreamRequest() =>
        new(HttpMethod.Post, "/v1/completions") { Content = Json("""{"prompt": "a", "max_tokens": 4, "stream": true}""") };

    static async Task<Outcome> WholeAsync(GatewayHost host, string body, CancellationToken cancellation)
    {
        using var response = await host.Client.PostAsync("/v1/completions", Json(body), cancellation);
        return await OutcomeOfAsync(response) ?? throw new InvalidOperationException($"unexpected {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellation)}");
    }

    static async Task<Outcome> StreamAsync(GatewayHost host, bool readToEnd, CancellationToken cancellation)
    {
        using var request = StreamRequest();
        using var response = await host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
        if (await OutcomeOfAsync(response) is { } refused and not Outcome.Served)
            return refused;
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation));
        if (!readToEnd)
        {
            Assert.StartsWith("data: ", await reader.ReadLineAsync(cancellation));
            return Outcome.Abandoned;
        }
        var body = await reader.ReadToEndAsync(cancellation);
        Assert.EndsWith("data: [DONE]\n\n", body);
        return Outcome.Served;
    }

    static async Task<Outcome?> OutcomeOfAsync(HttpResponseMessage response) => response.StatusCode switch
    {
        HttpStatusCode.OK => Outcome.Served,
        HttpStatusCode.BadRequest => Outcome.Invalid,
        HttpStatusCode.TooManyRequests when (await response.ReadJsonAsync()).GetProperty("error").GetProperty("type").GetString() == "concurrent_requests"
            => Outcome.Refused,
        _ => null,
    };
}
