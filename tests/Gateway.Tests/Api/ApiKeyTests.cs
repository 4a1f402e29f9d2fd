using System.Net;
using Microsoft.Extensions.Options;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>API keys: every API route needs one of the configured keys, in any of the three headers; health and OpenAPI stay open.</summary>
public sealed class ApiKeyTests
{
    const string Key = "sk-test-0123456789";
    const string OtherKey = "sk-other";

    static Dictionary<string, string> Keys() => new() { ["Gateway:ApiKeys:0"] = Key, ["Gateway:ApiKeys:1"] = OtherKey };

    static HttpRequestMessage Predict(string? header = null, string? value = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Json("""{"text": "a", "n_samples": 1}""") };
        if (header is not null)
            request.Headers.TryAddWithoutValidation(header, value);
        return request;
    }

    static async Task AssertInvalidApiKeyAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.DoesNotContain(Key, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Without_a_key_every_api_route_is_401_and_the_preprocessor_is_not_called()
    {
        await using var host = await GatewayHost.StartAsync(Keys());

        using var predict = await host.Client.SendAsync(Predict());
        using var completions = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a"}"""));
        using var models = await host.Client.GetAsync("/v1/models");

        await AssertInvalidApiKeyAsync(predict);
        await AssertInvalidApiKeyAsync(completions);
        await AssertInvalidApiKeyAsync(models);
        Assert.Empty(host.Preprocessor.Requests);
    }

    [Theory]
    [InlineData("Authorization", "Bearer sk-wrong")]
    [InlineData("Authorization", "Bearer sk-test-012345678")]
    [InlineData("Authorization", "Bearer sk-test-0123456789x")]
    [InlineData("Authorization", "Basic c2stdGVzdA==")]
    [InlineData("Authorization", "sk-test-0123456789")]
    [InlineData("api-key", "sk-wrong")]
    [InlineData("x-api-key", "")]
    public async Task Wrong_key_is_401(string header, string value)
    {
        await using var host = await GatewayHost.StartAsync(Keys());

        using var response = await host.Client.SendAsync(Predict(header, value));

        await AssertInvalidApiKeyAsync(response);
    }

    [Theory]
    [InlineData("Authorization", "Bearer sk-test-0123456789")]
    [InlineData("Authorization", "bearer sk-test-0123456789")]
    [InlineData("Authorization", "Bearer sk-other")]
    [InlineData("api-key", "sk-test-0123456789")]
    [InlineData("x-api-key", "sk-other")]
    public async Task Right_key_in_any_header_form_is_served(string header, string value)
    {
        await using var host = await GatewayHost.StartAsync(Keys());

        using var response = await host.Client.SendAsync(Predict(header, value));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(host.Preprocessor.Requests);
    }

    [Fact]
    public async Task Keys_are_read_from_the_file_one_per_line_ignoring_blanks_and_comments()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "# mounted from the Secret\n\nsk-from-file-1\r\n  sk-from-file-2  \n");
            await using var host = await GatewayHost.StartAsync(new() { ["Gateway:ApiKeysFile"] = file });

            using var first = await host.Client.SendAsync(Predict("Authorization", "Bearer sk-from-file-1"));
            using var second = await host.Client.SendAsync(Predict("x-api-key", "sk-from-file-2"));
            using var comment = await host.Client.SendAsync(Predict("Authorization", "Bearer # mounted from the Secret"));

            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            await AssertInvalidApiKeyAsync(comment);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("Gateway:ApiKeysFile", "/nonexistent/keys", "Gateway:ApiKeysFile")]
    [InlineData("Gateway:ApiKeys:0", " ", "Gateway:ApiKeys")]
    public async Task Unusable_key_setting_stops_the_gateway_at_startup_naming_it(string setting, string value, string named)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(new() { [setting] = value }));

        Assert.Contains(named, error.Message);
    }

    [Fact]
    public async Task Key_file_without_a_key_stops_the_gateway()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "# placeholder\n\n");
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(new() { ["Gateway:ApiKeysFile"] = file }));
            Assert.Contains("holds no key", error.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/alive")]
    [InlineData("/healthz")]
    [InlineData("/openapi/v1.json")]
    public async Task Health_and_openapi_need_no_key(string path)
    {
        await using var host = await GatewayHost.StartAsync(Keys());

        using var response = await host.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Without_configured_keys_the_api_is_open()
    {
        await using var host = await GatewayHost.StartAsync();

        using var response = await host.Client.SendAsync(Predict());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
