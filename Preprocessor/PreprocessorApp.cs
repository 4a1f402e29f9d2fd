using GptjAspire.GrpcTransport;
using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Service;
using GptjAspire.Preprocessor.Text;
using GptjAspire.TritonClient;

namespace GptjAspire.Preprocessor;

/// <summary>Registers the Preprocessor: the model's text side, the backend connection and its monitor, the gRPC service and its health.</summary>
public static class PreprocessorApp
{
    public static IHostApplicationBuilder AddPreprocessor(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.Services.Configure<PreprocessorOptions>(configuration.GetSection(PreprocessorOptions.Section));
        builder.Services.AddSingleton(services => TextModel.Load(configuration, services.GetRequiredService<ILogger<TextModel>>()));

        var backendAddress = configuration[BackendModel.AddressKey]
            ?? throw new InvalidOperationException(
                $"Configuration '{BackendModel.AddressKey}' (env services__backend__grpc__0) must give the backend's gRPC address.");
        builder.Services.AddSingleton(_ => GrpcChannel.ForAddress(backendAddress));
        builder.Services.AddSingleton(services => new TritonInferenceClient(services.GetRequiredService<GrpcChannel>()));
        builder.Services.AddSingleton(services => new BackendModel(
            services.GetRequiredService<TritonInferenceClient>(),
            configuration[TextModel.NameKey] ?? "gptj",
            services.GetRequiredService<ILogger<BackendModel>>()));
        builder.Services.AddHostedService<BackendMonitor>();

        builder.Services.AddGrpcTransport();
        builder.Services.AddSingleton<PreprocessorService>();
        builder.Services.AddHealthChecks().AddCheck<BackendHealthCheck>("backend");
        return builder;
    }

    public static WebApplication MapPreprocessor(this WebApplication app)
    {
        // Load the tokenizer now: a bad model folder should stop the process at start, not fail the first request.
        app.Services.GetRequiredService<TextModel>();
        app.MapGrpcService<PreprocessorService>(PreprocessorService.Bind);
        return app;
    }
}
