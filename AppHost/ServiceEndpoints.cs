using Aspire.Hosting.ApplicationModel;

namespace GptjAspire.AppHost;

/// <summary>Container ports of a .NET service when published; locally every port is allocated by Aspire.</summary>
/// <param name="Http">The `http` endpoint (HTTP/1.1: /health, /alive, the Gateway's public API).</param>
/// <param name="Grpc">The `grpc` endpoint (HTTP/2 only), or null for a service without gRPC.</param>
public sealed record ServicePorts(int Http, int? Grpc)
{
    public static readonly ServicePorts Gateway = new(8080, null);
    public static readonly ServicePorts Preprocessor = new(8080, 8081);
    public static readonly ServicePorts CpuBackend = new(8000, 8001);
}

/// <summary>Gives a .NET service its `http` and `grpc` endpoints the one way every launcher does: Kestrel named endpoints.</summary>
public static class ServiceEndpoints
{
    /// <summary>Project options: endpoints come only from the AppHost, not from the project's launch profile or appsettings.</summary>
    public static void FromAppHostOnly(ProjectResourceOptions options)
    {
        options.ExcludeLaunchProfile = true;
        options.ExcludeKestrelEndpoints = true;
    }

    /// <summary>
    /// Adds endpoints `http` and (for gRPC services) `grpc` and sets Kestrel__Endpoints__{name}__Url for
    /// each, with Protocols=Http2 on `grpc`: cleartext gRPC is HTTP/2 with prior knowledge, which
    /// Kestrel only accepts on an Http2-only endpoint. <paramref name="hostPort"/> fixes the port the
    /// `http` endpoint has on this machine when run locally; without it Aspire picks a free one.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithServiceEndpoints(this IResourceBuilder<ProjectResource> project, ServicePorts ports, int? hostPort = null)
    {
        var publishing = project.ApplicationBuilder.ExecutionContext.IsPublishMode;

        // Aspire would otherwise also write ASPNETCORE_URLS / HTTP_PORTS for these endpoints; the
        // Kestrel endpoints below are the services' only listening configuration.
        project.WithEndpointsInEnvironment(_ => false);

        project.WithHttpEndpoint(port: publishing ? null : hostPort, targetPort: publishing ? ports.Http : null, name: "http");
        project.WithKestrelUrl("http", publishing);

        if (ports.Grpc is { } grpcPort)
        {
            project.WithHttpEndpoint(targetPort: publishing ? grpcPort : null, name: "grpc")
                .WithEndpoint("grpc", endpoint => endpoint.Transport = "http2");
            project.WithKestrelUrl("grpc", publishing);
            project.WithEnvironment("Kestrel__Endpoints__grpc__Protocols", "Http2");
        }

        return project;
    }

    /// <summary>Sets Model__Path when a model folder is configured; otherwise the service uses its built-in demo checkpoint.</summary>
    public static IResourceBuilder<ProjectResource> WithModelPath(this IResourceBuilder<ProjectResource> project, string? modelPath) =>
        modelPath is null ? project : project.WithEnvironment("Model__Path", modelPath);

    private static void WithKestrelUrl(this IResourceBuilder<ProjectResource> project, string endpointName, bool publishing)
    {
        var endpoint = project.GetEndpoint(endpointName);
        // In a container the service must listen on every interface; locally, loopback only.
        var host = publishing ? "*" : "localhost";
        project.WithEnvironment($"Kestrel__Endpoints__{endpointName}__Url",
            ReferenceExpression.Create($"http://{host}:{endpoint.Property(EndpointProperty.TargetPort)}"));
    }
}
