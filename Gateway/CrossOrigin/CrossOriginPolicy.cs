using GptjAspire.Gateway.RateLimiting;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.CrossOrigin;

/// <summary>The Gateway's one CORS policy: the configured origins may call every endpoint with GET or POST, without credentials.</summary>
/// <remarks>With no origins configured there is no policy: browsers then refuse cross-site reads and preflights get 405.</remarks>
public static class CrossOriginPolicy
{
    public static IServiceCollection AddCrossOrigin(this IServiceCollection services)
    {
        services.AddOptions<CrossOriginOptions>().BindConfiguration(CrossOriginOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CrossOriginOptions>, CrossOriginOptions.Validator>();
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<CrossOriginOptions>>((cors, crossOrigin) =>
        {
            var origins = crossOrigin.Value.AllowedOrigins;
            if (origins.Count == 0)
                return;
            cors.AddDefaultPolicy(policy =>
            {
                if (origins is ["*"])
                    policy.AllowAnyOrigin();
                else
                    policy.WithOrigins([.. origins]);
                // OpenAI's browser clients send Authorization and their own x- headers; no cookies are involved.
                policy.WithMethods(HttpMethods.Get, HttpMethods.Post).AllowAnyHeader()
                    .WithExposedHeaders(["Retry-After", .. RateLimitHeaders.Names]);
            });
        });
        return services;
    }
}
