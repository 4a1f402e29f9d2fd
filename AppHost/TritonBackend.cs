using Aspire.Hosting.ApplicationModel;

namespace GptjAspire.AppHost;

/// <summary>The `backend` resource as NVIDIA Triton with the TensorRT-LLM backend, in a GPU container.</summary>
public static class TritonBackend
{
    // TensorRT-LLM 1.1.0 inside; tools/trtllm/build_engine.sh builds engines with the same version
    // (an engine loads only in the TensorRT-LLM it was built with).
    public const string Registry = "nvcr.io";
    public const string Image = "nvidia/tritonserver";
    public const string Tag = "25.12-trtllm-python-py3";

    public const int HttpPort = 8000;
    public const int GrpcPort = 8001;
    public const int MetricsPort = 8002;

    /// <summary>Where the model repository is mounted in the container (config.pbtxt's gpt_model_path is under it).</summary>
    public const string ModelRepositoryMount = "/models";

    /// <summary>The tokenizer folder that build_engine.sh puts beside the engine, as a published Preprocessor sees it in the model volume.</summary>
    public const string TokenizerInModelRepository = ModelRepositoryMount + "/gptj/tokenizer";

    // Run through a shell so the OTLP endpoint Aspire puts in the environment reaches Triton's
    // OpenTelemetry exporter, which takes its URL only on the command line and speaks OTLP/HTTP
    // only. Triton reads the exporter's headers (the dashboard's API key) from OTEL_EXPORTER_OTLP_HEADERS.
    // Only `gptj` is loaded: the tokenizer folder beside it is not a model.
    private const string CommandLine =
        "exec tritonserver --model-repository=/models --model-control-mode=explicit --load-model=gptj "
        + "--http-port=8000 --grpc-port=8001 --metrics-port=8002 "
        + "--trace-config mode=opentelemetry "
        + "--trace-config \"opentelemetry,url=${OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces\" "
        + "--trace-config opentelemetry,resource=service.name=backend "
        + "--trace-config rate=1 --trace-config level=TIMESTAMPS";

    /// <summary>Adds Triton serving <paramref name="modelRepository"/> (bind-mounted read-only when run locally).</summary>
    public static IResourceBuilder<ContainerResource> AddTritonBackend(this IDistributedApplicationBuilder builder, string name, string modelRepository)
    {
        var triton = builder.AddContainer(name, Image, Tag)
            .WithImageRegistry(Registry)
            .WithEntrypoint("/bin/sh")
            .WithArgs("-c", CommandLine)
            .WithHttpEndpoint(targetPort: HttpPort, name: "http")
            .WithHttpEndpoint(targetPort: GrpcPort, name: "grpc")
            .WithEndpoint("grpc", endpoint => endpoint.Transport = "http2")
            .WithHttpEndpoint(targetPort: MetricsPort, name: "metrics")
            .WithOtlpExporter(OtlpProtocol.HttpProtobuf)
            .WithEnvironment("HOME", "/tmp")
            // Ready means the engine is loaded and `gptj` accepts requests (KServe v2 health).
            .WithHttpHealthCheck("/v2/health/ready", endpointName: "http")
            .WithContainerRuntimeArgs(GpuArguments(builder.Configuration["ASPIRE_CONTAINER_RUNTIME"]))
            // TensorRT-LLM's recommended container limits: shared memory for inter-process
            // tensors, unlimited locked memory, a large stack.
            .WithContainerRuntimeArgs("--shm-size=2g", "--ulimit", "memlock=-1", "--ulimit", "stack=67108864");

        // Kubernetes has no bind mounts: the published workload mounts the model-repository
        // PersistentVolumeClaim instead (Publishing/KubernetesPublishing.cs).
        if (builder.ExecutionContext.IsRunMode)
        {
            triton.WithBindMount(modelRepository, ModelRepositoryMount, isReadOnly: true);
        }

        return triton;
    }

    /// <summary>How the container runtime hands every GPU to the container: Docker's --gpus, or the CDI device Podman uses.</summary>
    public static string[] GpuArguments(string? containerRuntime) =>
        string.Equals(containerRuntime, "podman", StringComparison.OrdinalIgnoreCase)
            ? ["--device", "nvidia.com/gpu=all"]
            : ["--gpus", "all"];
}
