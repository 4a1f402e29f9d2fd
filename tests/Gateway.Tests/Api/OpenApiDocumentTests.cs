namespace GptjAspire.Gateway.Tests.Api;

/// <summary>The OpenAPI document does not take its servers from whatever Host header a client sends.</summary>
public sealed class OpenApiDocumentTests
{
    [Fact]
    public async Task A_forged_host_header_does_not_reach_the_document()
    {
        await using var host = await GatewayHost.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/openapi/v1.json");
        request.Headers.Host = "evil.example:1";

        using var response = await host.Client.SendAsync(request);

        response.EnsureSuccessStatusCode();
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("evil.example", text);
        var document = System.Text.Json.JsonDocument.Parse(text).RootElement;
        Assert.True(!document.TryGetProperty("servers", out var servers) || servers.GetArrayLength() == 0);
        Assert.True(document.GetProperty("paths").TryGetProperty("/v1/completions", out _));
    }
}
