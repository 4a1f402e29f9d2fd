using System.Net;
using System.Text;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>HEAD is answered wherever GET is (RFC 9110 §9.3.2): the same status and headers, no body.</summary>
public sealed class HeadRequestTests
{
    [Theory]
    [InlineData("/healthz")]
    [InlineData("/v1/models")]
    [InlineData("/v1/models/gptj")]
    [InlineData("/v1/models/gpt-4")]
    [InlineData("/health")]
    [InlineData("/alive")]
    [InlineData("/openapi/v1.json")]
    public async Task Head_answers_as_get_without_the_body(string path)
    {
        await using var host = await GatewayHost.StartAsync();

        using var get = await host.Client.GetAsync(path);
        using var head = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(get.StatusCode, head.StatusCode);
        Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
        Assert.NotEmpty(await get.Content.ReadAsByteArrayAsync());
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        // On the wire, too: nothing follows the head, which a client reading the next response on the connection relies on.
        var wire = await RawHttp.ExchangeAsync(host.Client.BaseAddress!,
            Encoding.Latin1.GetBytes($"HEAD {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
        Assert.EndsWith("\r\n\r\n", Encoding.Latin1.GetString(wire));
        Assert.Equal(1, Encoding.Latin1.GetString(wire).Split("\r\n\r\n").Length - 1);
    }

    [Fact]
    public async Task Head_on_a_post_route_is_405_naming_head()
    {
        await using var host = await GatewayHost.StartAsync();

        using var head = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/predict"));
        // The same request as GET shows the message HEAD's response has no body for.
        using var get = await host.Client.GetAsync("/predict");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, head.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }
}
