using GptjAspire.AppHost;

// The deployment diagram: backend (Triton on a GPU, or CpuBackend) -> Preprocessor -> Gateway.
// Every service is configured through the environment variables a service run alone uses
// (Kestrel__Endpoints__*, services__*__grpc__0, Model__Path, OTEL_*); references inject only the
// services__ form (not Aspire's extra BACKEND_GRPC variables).
var builder = DistributedApplication.CreateBuilder(args);
if (PublicEndpoint.Problem(builder) is { } problem)
{
    // A port that is not one, or that another process holds: one line and exit code 1, not a stack trace or a silent wait.
    Console.Error.WriteLine(problem);
    return 1;
}

var backendKind = BackendChoice.From(builder.Configuration);
var models = ModelLocations.From(builder);

IResourceBuilder<IResourceWithEndpoints> backend = backendKind switch
{
    BackendKind.Triton => builder.AddTritonBackend("backend", models.TritonRepository),
    _ => builder.AddProject<Projects.CpuBackend>("backend", ServiceEndpoints.FromAppHostOnly)
        .WithServiceEndpoints(ServicePorts.CpuBackend)
        .WithModelPath(models.CpuModel)
        .WithHttpHealthCheck("/health", endpointName: "http"),
};

var preprocessor = builder.AddProject<Projects.Preprocessor>("preprocessor", ServiceEndpoints.FromAppHostOnly)
    .WithServiceEndpoints(ServicePorts.Preprocessor)
    .WithModelPath(models.TokenizerFor(backendKind))
    .WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.ServiceDiscovery)
    .WithReference(backend.GetEndpoint("grpc"))
    .WaitFor(backend)
    .WithHttpHealthCheck("/health", endpointName: "http");

builder.AddProject<Projects.Gateway>("gateway", ServiceEndpoints.FromAppHostOnly)
    .WithServiceEndpoints(ServicePorts.Gateway, hostPort: PublicEndpoint.GatewayPort(builder))
    .WithExternalHttpEndpoints()
    .WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.ServiceDiscovery)
    .WithReference(preprocessor.GetEndpoint("grpc"))
    .WaitFor(preprocessor)
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithPublishedApiKey()
    .WithReadyBanner();

#if KUBERNETES_PUBLISHING
// Opt-in build (-p:KubernetesPublishing=true): `aspire publish` turns this model into a Helm chart.
builder.PublishToKubernetes(backendKind);
#endif

builder.Build().Run();
return 0;
