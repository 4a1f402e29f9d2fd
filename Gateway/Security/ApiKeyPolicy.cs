using Microsoft.AspNetCore.Authentication;

namespace GptjAspire.Gateway.Security;

/// <summary>Registers the API key check and marks the endpoints that need it.</summary>
public static class ApiKeyPolicy
{
    public const string Name = "ApiKey";

    public static IServiceCollection AddApiKeys(this IServiceCollection services)
    {
        services.AddOptions<ApiKeyOptions>().BindConfiguration(ApiKeyOptions.Section).ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<ApiKeyOptions>, ApiKeyOptions.Validator>();
        services.AddSingleton<ApiKeyRing>();
        services.AddHostedService<ApiKeyStartupLog>();
        services.AddAuthentication(ApiKeyAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthentication>(ApiKeyAuthentication.SchemeName, null);
        services.AddAuthorizationBuilder().AddPolicy(Name, policy =>
            policy.AddAuthenticationSchemes(ApiKeyAuthentication.SchemeName).RequireAuthenticatedUser());
        return services;
    }

    /// <summary>Requires a configured API key on these endpoints (when any key is configured).</summary>
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder endpoints) where TBuilder : IEndpointConventionBuilder =>
        endpoints.RequireAuthorization(Name);
}
