using GptjAspire.AppHost;

// The deployment diagram: backend (Triton on a GPU, or CpuBackend) -> Preprocessor -> Gateway.
// Every service is configured through the environment variables a plain local run uses
// (Kestrel__Endpoints__*, services__*__grpc__0, Model__Path, OTEL_*), so nothing here is
// needed to run the system; it only makes running, watching and publishing it one step.
// References inject only the services__ form (not Aspire's extra BACKEND_GRPC variables).
var builder = DistributedApplication.CreateBuilder(args);

// `aspire publish` turns this model into Kubernetes manifests (a Helm chart).
builder.AddKubernetesEnvironment("k8s");

var backendKind = BackendChoice.From(builder.Configuration);
var models = ModelLocations.From(builder);

IResourceBuilder<IResourceWithEndpoints> backend = backendKind switch
{
    BackendKind.Triton => builder.AddTritonBackend("backend", models.TritonRepository),
    _ => builder.AddProject<Projects.CpuBackend>("backend", ServiceEndpoints.FromAppHostOnly)
        .WithServiceEndpoints(ServicePorts.CpuBackend)
        .WithModelPath(models.CpuModel)
        .WithHttpHealthCheck("/health", endpointName: "http")
        .PublishAsKubernetesService(KubernetesPublishing.SingleReplicaBackend),
};

var preprocessor = builder.AddProject<Projects.Preprocessor>("preprocessor", ServiceEndpoints.FromAppHostOnly)
    .WithServiceEndpoints(ServicePorts.Preprocessor)
    .WithModelPath(models.TokenizerFor(backendKind))
    .WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.ServiceDiscovery)
    .WithReference(backend.GetEndpoint("grpc"))
    .WaitFor(backend)
    .WithHttpHealthCheck("/health", endpointName: "http")
    .PublishAsKubernetesService(KubernetesPublishing.StatelessService(ServicePorts.Preprocessor,
        readsModelRepository: backendKind == BackendKind.Triton));

builder.AddProject<Projects.Gateway>("gateway", ServiceEndpoints.FromAppHostOnly)
    .WithServiceEndpoints(ServicePorts.Gateway)
    .WithExternalHttpEndpoints()
    .WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.ServiceDiscovery)
    .WithReference(preprocessor.GetEndpoint("grpc"))
    .WaitFor(preprocessor)
    .WithHttpHealthCheck("/health", endpointName: "http")
    .PublishAsKubernetesService(KubernetesPublishing.StatelessService(ServicePorts.Gateway));

builder.Build().Run();
