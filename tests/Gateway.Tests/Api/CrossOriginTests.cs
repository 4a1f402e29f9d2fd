using System.Net;
using Microsoft.Extensions.Options;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>The CORS policy: off unless origins are configured, then exactly those origins, checked at startup.</summary>
public sealed class CrossOriginTests
{
    const string Site = "https://app.example.com";

    static HttpRequestMessage Preflight(string origin) => new(HttpMethod.Options, "/v1/completions")
    {
        Headers =
        {
            { "Origin", origin },
            { "Access-Control-Request-Method", "POST" },
            { "Access-Control-Request-Headers", "content-type,authorization" },
        },
    };

    [Fact]
    public async Task Without_configured_origins_no_response_allows_a_cross_site_read()
    {
        await using var host = await GatewayHost.StartAsync();
        using var post = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json("""{"text": "a"}"""), Headers = { { "Origin", Site } } };

        using var preflight = await host.Client.SendAsync(Preflight(Site));
        using var response = await host.Client.SendAsync(post);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, preflight.StatusCode);
        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Configured_origin_passes_the_preflight_and_reads_responses_and_retry_after()
    {
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:Cors:AllowedOrigins:0"] = Site });
        using var post = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json("""{"text": "a"}"""), Headers = { { "Origin", Site } } };

        using var preflight = await host.Client.SendAsync(Preflight(Site));
        using var response = await host.Client.SendAsync(post);

        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal([Site], preflight.Headers.GetValues("Access-Control-Allow-Origin"));
        Assert.Contains("POST", string.Join(",", preflight.Headers.GetValues("Access-Control-Allow-Methods")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([Site], response.Headers.GetValues("Access-Control-Allow-Origin"));
        Assert.Contains("Retry-After", string.Join(",", response.Headers.GetValues("Access-Control-Expose-Headers")));
    }

    [Fact]
    public async Task Other_origin_gets_no_allowance()
    {
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:Cors:AllowedOrigins:0"] = Site });

        using var preflight = await host.Client.SendAsync(Preflight("https://evil.example.net"));

        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("https://app.example.com/", "'https://app.example.com/' is not an origin")]
    [InlineData("app.example.com", "'app.example.com' is not an origin")]
    [InlineData("ftp://app.example.com", "'ftp://app.example.com' is not an origin")]
    public async Task Setting_that_is_not_an_origin_stops_the_gateway_at_startup_naming_it(string origin, string message)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            GatewayHost.StartAsync(new() { ["Gateway:Cors:AllowedOrigins:0"] = origin }));

        Assert.Contains("Gateway:Cors:AllowedOrigins", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public async Task Star_allows_any_origin_but_only_alone()
    {
        await using (var host = await GatewayHost.StartAsync(new() { ["Gateway:Cors:AllowedOrigins:0"] = "*" }))
        {
            using var preflight = await host.Client.SendAsync(Preflight("https://any.example.org"));
            Assert.Equal(["*"], preflight.Headers.GetValues("Access-Control-Allow-Origin"));
        }

        await Assert.ThrowsAsync<OptionsValidationException>(() =>
            GatewayHost.StartAsync(new() { ["Gateway:Cors:AllowedOrigins:0"] = "*", ["Gateway:Cors:AllowedOrigins:1"] = Site }));
    }
}
