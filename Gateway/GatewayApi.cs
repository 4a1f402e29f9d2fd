using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using GptjAspire.Gateway.Admission;
using GptjAspire.Gateway.Chat;
using GptjAspire.Gateway.Completions;
using GptjAspire.Gateway.CrossOrigin;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Metrics;
using GptjAspire.Gateway.Models;
using GptjAspire.Gateway.Predict;
using GptjAspire.Gateway.Preprocessing;
using GptjAspire.Gateway.RateLimiting;
using GptjAspire.Gateway.Routing;
using GptjAspire.Gateway.Security;
using GptjAspire.Gateway.Tokenization;
using GptjAspire.ServiceDefaults;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace GptjAspire.Gateway;

/// <summary>Registers and maps the public API: <c>/predict</c>, <c>/healthz</c>, <c>/v1/completions</c>, <c>/v1/chat/completions</c>, <c>/v1/models</c>, <c>/tokenize</c>, <c>/detokenize</c>, <c>/openapi/v1.json</c>, and the playground page at <c>/</c> (wwwroot).</summary>
public static class GatewayApi
{
    public static IHostApplicationBuilder AddGatewayApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            // Vietnamese text stays readable in responses instead of \uXXXX escapes.
            options.SerializerOptions.Encoder = JavaScriptEncoder.Create(UnicodeRanges.All);
        });
        if (builder.Configuration[PreprocessorClient.AddressKey] is null)
        {
            throw new InvalidOperationException(
                $"Configuration '{PreprocessorClient.AddressKey}' (env services__preprocessor__grpc__0) must give the Preprocessor's gRPC address.");
        }
        builder.Services.AddGrpcClient<Gptj.V1.Preprocessor.PreprocessorClient>(options => options.Address = PreprocessorClient.Address)
            .ConfigureChannel(channel => channel.MaxReceiveMessageSize = PreprocessorClient.MaxResponseBytes)
            .ForGrpc();
        builder.Services.AddSingleton<PreprocessorClient>();
        builder.Services.AddSingleton<ServedModel>();
        builder.Services.AddAdmission();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddHealthChecks().AddCheck<PreprocessorHealthCheck>(PreprocessorHealthCheck.Name);
        builder.Services.AddOpenApi(options => options.AddApiKeySecurity().WithoutRequestServers());
        builder.Services.AddCrossOrigin();
        builder.Services.AddKestrelRejectionBodies();
        // Kestrel reads only endpoints from its section; its limits (e.g. RequestHeadersTimeout against slow clients,
        // 30 s by default) become settings too: Kestrel__Limits__RequestHeadersTimeout.
        builder.Services.Configure<KestrelServerOptions>(kestrel => builder.Configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits));
        builder.Services.AddApiKeys();
        builder.Services.AddTrustedProxies();
        builder.Services.AddCallerLimits();
        return builder;
    }

    public static WebApplication MapGatewayApi(this WebApplication app)
    {
        // Created now, not at the first request: its gauges report 0 from the start, and an autoscaler needs that 0.
        app.Services.GetRequiredService<GatewayMetrics>();
        app.UseTrustedProxies();
        app.UseRoutingWithHead();
        app.UseStatusCodePages(FrameworkErrors.WriteAsync);
        app.UseMiddleware<ApiErrorMiddleware>();
        app.UseCors();
        // The playground (wwwroot/index.html at /): plain files, no build step, open like the health endpoints.
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapOpenApi();
        // Every API route needs a key (when keys are configured) and counts against its caller's limits.
        var api = app.MapGroup("").RequireApiKey().RequireCallerLimits();
        api.MapPredict();
        api.MapCompletions();
        api.MapChatCompletions();
        api.MapModels();
        api.MapTokenization();
        return app;
    }
}
