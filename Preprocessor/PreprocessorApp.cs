using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Errors;
using GptjAspire.ServiceDefaults;
using GptjAspire.Preprocessor.Service;
using GptjAspire.Preprocessor.Text;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.Preprocessor;

/// <summary>Registers the Preprocessor: the model's text side, the backend connection and its monitor, the gRPC service, its health and reflection.</summary>
public static class PreprocessorApp
{
    /// <summary>The backend as service discovery names it: endpoint "grpc" of service "backend" (Aspire's <c>services__backend__grpc__0</c>).</summary>
    public static readonly Uri BackendAddress = new("http://_grpc.backend");

    /// <summary>Largest gptj.v1 message the Preprocessor reads or writes (gRPC's default is 4 MiB for reading, none for
    /// writing): room for a direct caller's Tokenize or Detokenize of a long document. What the Gateway sends and reads is
    /// far smaller wherever it can succeed: a prompt and n samples that fit the context window.</summary>
    /// <remarks>The Gateway reads answers up to the same size (its <c>PreprocessorClient.MaxResponseBytes</c>).</remarks>
    public const int MaxMessageBytes = 16 * 1024 * 1024;

    public static IHostApplicationBuilder AddPreprocessor(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.Services.AddOptions<PreprocessorOptions>().BindConfiguration(PreprocessorOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(services => TextModel.Load(configuration, services.GetRequiredService<ILogger<TextModel>>()));

        if (configuration[BackendModel.AddressKey] is null)
        {
            throw new InvalidOperationException(
                $"Configuration '{BackendModel.AddressKey}' (env services__backend__grpc__0) must give the backend's gRPC address.");
        }
        builder.Services.AddGrpcClient<GRPCInferenceService.GRPCInferenceServiceClient>(options => options.Address = BackendAddress)
            .ConfigureChannel(channel => channel.MaxReceiveMessageSize = TritonInferenceClient.MaxMessageBytes)
            .ForGrpc();
        builder.Services.AddSingleton(services => new TritonInferenceClient(services.GetRequiredService<GRPCInferenceService.GRPCInferenceServiceClient>()));
        builder.Services.AddSingleton(services => new BackendModel(
            services.GetRequiredService<TritonInferenceClient>(),
            configuration[TextModel.NameKey] ?? "gptj",
            services.GetRequiredService<ILogger<BackendModel>>()));
        builder.Services.AddHostedService<BackendMonitor>();
        builder.Services.AddSingleton<PreprocessorMetrics>();

        builder.Services.AddGrpc(options =>
        {
            // Every failure gets its status by meaning, in one place (Errors/BackendFailures).
            options.Interceptors.Add<ErrorInterceptor>();
            options.MaxReceiveMessageSize = MaxMessageBytes;
            options.MaxSendMessageSize = MaxMessageBytes;
        });
        builder.Services.AddGrpcReflection();
        // grpc.health.v1 answers from the same checks as /health: SERVING only while the backend's model is ready.
        builder.Services.AddGrpcHealthChecks(options => options.Services.Map(Gptj.V1.Preprocessor.Descriptor.FullName, _ => true))
            .AddCheck<BackendHealthCheck>("backend");
        return builder;
    }

    public static WebApplication MapPreprocessor(this WebApplication app)
    {
        // Load the tokenizer now: a bad model folder should stop the process at start, not fail the first request.
        app.Services.GetRequiredService<TextModel>();
        app.MapGrpcService<PreprocessorService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }
}
