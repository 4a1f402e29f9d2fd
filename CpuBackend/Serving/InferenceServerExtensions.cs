using GptjAspire.CpuBackend.Generation;
using GptjAspire.GrpcTransport;
using GptjAspire.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>Registration and mapping of CpuBackend's KServe server: model host, scheduler options, gRPC inference and health services.</summary>
public static class InferenceServerExtensions
{
    public static IHostApplicationBuilder AddInferenceServer(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<ModelOptions>(builder.Configuration.GetSection(ModelOptions.SectionName));
        builder.Services.AddSingleton<IValidateOptions<GenerationOptions>, GenerationOptionsValidation>();
        builder.Services.AddOptions<GenerationOptions>().BindConfiguration(GenerationOptions.SectionName).ValidateOnStart();
        builder.Services.AddGrpcTransport();
        builder.Services.AddGrpcHealth();
        builder.Services.AddSingleton<ModelHost>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ModelHost>());
        builder.Services.AddSingleton<InferenceService>();
        builder.Services.AddHealthChecks()
            .AddCheck<ModelHealthCheck>("model")
            .AddCheck<GenerationLivenessCheck>("generation-loop", tags: [ServiceDefaultsExtensions.LiveTag]);
        return builder;
    }

    public static IEndpointRouteBuilder MapInferenceServer(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<InferenceService>(InferenceService.Bind);
        endpoints.MapGrpcHealthService();
        return endpoints;
    }
}
