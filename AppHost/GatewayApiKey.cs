using Aspire.Hosting.ApplicationModel;

namespace GptjAspire.AppHost;

/// <summary>The published Gateway's API key: a generated secret parameter; local runs stay open (no key).</summary>
public static class GatewayApiKey
{
    public const string ParameterName = "gateway-api-key";

    /// <summary>When publishing, requires the key <c>gateway-api-key</c> (Gateway__ApiKeys__0) on every API route.</summary>
    public static IResourceBuilder<ProjectResource> WithPublishedApiKey(this IResourceBuilder<ProjectResource> gateway)
    {
        var builder = gateway.ApplicationBuilder;
        if (!builder.ExecutionContext.IsPublishMode)
            return gateway;
        // 32 letters and digits: about 190 bits, and safe in a header, a Secret and a shell.
        var key = builder.AddParameter(ParameterName, new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true);
        return gateway.WithEnvironment("Gateway__ApiKeys__0", key);
    }
}
