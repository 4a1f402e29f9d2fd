using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GptjAspire.Gateway.RateLimiting;

/// <summary>Registers the per-caller limits and applies the request limit to endpoints as a filter, after the API key check named the caller.</summary>
public static class RateLimitPolicy
{
    public static IServiceCollection AddCallerLimits(this IServiceCollection services)
    {
        services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<CallerLimits>();
        return services;
    }

    /// <summary>Counts every request to these endpoints, except those marked <c>DisableRateLimiting()</c>.</summary>
    public static TBuilder RequireCallerLimits<TBuilder>(this TBuilder endpoints) where TBuilder : IEndpointConventionBuilder =>
        endpoints.AddEndpointFilter((invocation, next) =>
        {
            var http = invocation.HttpContext;
            if (http.GetEndpoint()?.Metadata.GetMetadata<DisableRateLimitingAttribute>() is null)
                http.RequestServices.GetRequiredService<CallerLimits>().ChargeRequest(http);
            return next(invocation);
        });

    /// <summary>Charges the most tokens this request can generate to its caller (see <see cref="RateLimitOptions.TokensPerMinute"/>);
    /// the charge is given back if the request is refused before it generates (<see cref="TokenCharge.RefundIfRefused"/>).</summary>
    public static TokenCharge ChargeGeneratedTokens(this HttpContext http, long tokens, string param) =>
        http.RequestServices.GetRequiredService<CallerLimits>().ChargeTokens(http, tokens, param);
}
