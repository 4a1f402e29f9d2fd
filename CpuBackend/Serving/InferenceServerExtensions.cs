using GptjAspire.CpuBackend.Generation;
using GptjAspire.CpuBackend.Serving.Rest;
using GptjAspire.ServiceDefaults;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Protocol;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace GptjAspire.CpuBackend.Serving;

/// <summary>Registration and mapping of CpuBackend's KServe server: model host, scheduler options, gRPC inference, health and reflection services.</summary>
public static class InferenceServerExtensions
{
    const int GrpcMessagePrefixBytes = 5;

    public static IHostApplicationBuilder AddInferenceServer(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<ModelOptions>(builder.Configuration.GetSection(ModelOptions.SectionName));
        builder.Services.AddSingleton<IValidateOptions<GenerationOptions>, GenerationOptionsValidation>();
        builder.Services.AddOptions<GenerationOptions>().BindConfiguration(GenerationOptions.SectionName).ValidateOnStart();
        builder.Services.AddGrpc(options => options.MaxReceiveMessageSize = TritonInferenceClient.MaxMessageBytes);
        // Kestrel's default body limit (30 MB) would cut a unary call short of the message size above, with UNKNOWN;
        // a unary body is one message behind its 5-byte length prefix. (REST bodies set the same limit per request.)
        builder.Services.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.MaxRequestBodySize = TritonInferenceClient.MaxMessageBytes + GrpcMessagePrefixBytes);
        builder.Services.AddGrpcReflection();
        builder.Services.AddSingleton<ModelHost>();
        // One instance answers both protocols: the gRPC service and the REST endpoints (KServeRestEndpoints).
        builder.Services.AddSingleton<InferenceService>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ModelHost>());
        // grpc.health.v1 answers from the same checks as /health: the whole server ("") and the KServe service
        // are SERVING only once the model is loaded and while the generation loop makes progress, so a gRPC
        // health checker routes no traffic here before, nor to a wedged engine.
        builder.Services.AddGrpcHealthChecks(options => options.Services.Map(GRPCInferenceService.Descriptor.FullName, _ => true))
            .AddCheck<ModelHealthCheck>("model")
            .AddCheck<GenerationLivenessCheck>("generation-loop", tags: [Extensions.LiveTag]);
        return builder;
    }

    public static WebApplication MapInferenceServer(this WebApplication app)
    {
        app.UseKServeRestErrorBodies();
        app.MapGrpcService<InferenceService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        app.MapKServeRest();
        return app;
    }
}
