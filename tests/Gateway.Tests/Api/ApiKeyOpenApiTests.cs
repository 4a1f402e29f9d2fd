using System.Text.Json;
using GptjAspire.Gateway.Security;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>The OpenAPI document tells clients (and generated SDKs) how to send the API key, exactly when one is required.</summary>
public sealed class ApiKeyOpenApiTests
{
    [Fact]
    public async Task With_keys_the_document_declares_the_three_headers_and_every_api_operation_accepts_any_of_them()
    {
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:ApiKeys:0"] = "sk-test-0123456789" });

        var document = await ReadDocumentAsync(host);

        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal(("http", "bearer"), (schemes.GetProperty(ApiKeyOpenApi.BearerScheme).GetProperty("type").GetString(),
            schemes.GetProperty(ApiKeyOpenApi.BearerScheme).GetProperty("scheme").GetString()));
        foreach (var header in new[] { ApiKeyHeaders.ApiKey, ApiKeyHeaders.XApiKey })
        {
            Assert.Equal(("apiKey", "header", header), (schemes.GetProperty(header).GetProperty("type").GetString(),
                schemes.GetProperty(header).GetProperty("in").GetString(), schemes.GetProperty(header).GetProperty("name").GetString()));
        }
        foreach (var (path, method) in new[] { ("/predict", "post"), ("/v1/completions", "post"), ("/v1/chat/completions", "post"), ("/v1/models", "get") })
        {
            var security = document.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("security");
            Assert.Equal([ApiKeyOpenApi.BearerScheme, ApiKeyHeaders.ApiKey, ApiKeyHeaders.XApiKey],
                security.EnumerateArray().Select(requirement => requirement.EnumerateObject().Single().Name));
        }
        Assert.False(document.GetProperty("paths").GetProperty("/healthz").GetProperty("get").TryGetProperty("security", out _));
    }

    [Fact]
    public async Task Without_keys_the_document_requires_nothing()
    {
        await using var host = await GatewayHost.StartAsync();

        var document = await ReadDocumentAsync(host);

        Assert.False(document.TryGetProperty("components", out var components) && components.TryGetProperty("securitySchemes", out _));
        Assert.False(document.GetProperty("paths").GetProperty("/v1/completions").GetProperty("post").TryGetProperty("security", out _));
    }

    static async Task<JsonElement> ReadDocumentAsync(GatewayHost host)
    {
        using var response = await host.Client.GetAsync("/openapi/v1.json");
        response.EnsureSuccessStatusCode();
        return await response.ReadJsonAsync();
    }
}
