using System.Net;
using GptjAspire.Gateway.Tests.Api;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Tests.Security;

/// <summary>Without keys each caller is its client address: behind trusted proxies that is the address they forward in
/// <c>X-Forwarded-For</c>, and the header is ignored from anyone else, since a client can write any address in it.
/// The per-minute request limit (one a minute) shows which caller a request was counted against.</summary>
public sealed class TrustedProxyTests
{
    static Dictionary<string, string> OneRequestPerMinute(params string[] trustedProxies)
    {
        var settings = new Dictionary<string, string> { ["Gateway:RateLimits:RequestsPerMinute"] = "1" };
        for (var i = 0; i < trustedProxies.Length; i++)
            settings[$"Gateway:TrustedProxies:{i}"] = trustedProxies[i];
        return settings;
    }

    static async Task<HttpStatusCode> ModelsAsync(GatewayHost host, string forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await host.Client.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Without_trusted_proxies_forwarded_addresses_are_ignored_and_the_connection_is_the_caller()
    {
        await using var host = await GatewayHost.StartAsync(OneRequestPerMinute());

        Assert.Equal(HttpStatusCode.OK, await ModelsAsync(host, "203.0.113.1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await ModelsAsync(host, "203.0.113.2"));
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_each_forwarded_client_is_its_own_caller()
    {
        await using var host = await GatewayHost.StartAsync(OneRequestPerMinute("127.0.0.1"));

        Assert.Equal(HttpStatusCode.OK, await ModelsAsync(host, "203.0.113.1"));
        Assert.Equal(HttpStatusCode.OK, await ModelsAsync(host, "203.0.113.2"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await ModelsAsync(host, "203.0.113.1"));
    }

    [Fact]
    public async Task The_client_is_the_first_untrusted_hop_from_the_right_whatever_it_wrote_further_left()
    {
        // Two trusted hops (this connection, then a network of proxies): 198.51.100.7 reached the first of them.
        await using var host = await GatewayHost.StartAsync(OneRequestPerMinute("127.0.0.1", "10.0.0.0/8"));

        Assert.Equal(HttpStatusCode.OK, await ModelsAsync(host, "1.1.1.1, 198.51.100.7, 10.1.2.3"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await ModelsAsync(host, "2.2.2.2, 198.51.100.7, 10.9.8.7"));
        Assert.Equal(HttpStatusCode.OK, await ModelsAsync(host, "198.51.100.8, 10.1.2.3"));
    }

    [Theory]
    [InlineData("ingress")]
    [InlineData("10.0.0.0/33")]
    [InlineData("")]
    public async Task An_entry_that_is_not_an_address_or_network_stops_the_gateway_at_startup_naming_it(string entry)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            GatewayHost.StartAsync(OneRequestPerMinute("127.0.0.1", entry)));

        Assert.Contains("TrustedProxies:1", error.Message);
    }
}
