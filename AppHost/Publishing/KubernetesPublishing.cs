using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Kubernetes;
using Aspire.Hosting.Kubernetes.Resources;

namespace GptjAspire.AppHost;

/// <summary>What `aspire publish` adds to the generated Kubernetes workloads beyond Aspire's defaults (same choices as deploy/).</summary>
/// <remarks>Compiled into the AppHost only in the opt-in build (-p:KubernetesPublishing=true); tests/KubernetesPublishing.Check
/// compiles it in every build against the public API of Aspire.Hosting.Kubernetes that it uses.</remarks>
public static class KubernetesPublishing
{
    /// <summary>The PersistentVolumeClaim holding the Triton model repository (engine, config.pbtxt, tokenizer).</summary>
    public const string ModelRepositoryClaim = "model-repository";

    /// <summary>Adds the Kubernetes environment `k8s` and customizes the workload of each of the AppHost's three resources.</summary>
    public static void PublishToKubernetes(this IDistributedApplicationBuilder builder, BackendKind backend)
    {
        builder.AddKubernetesEnvironment("k8s");
        Customize(builder, "backend", backend == BackendKind.Triton ? TritonWorkload : SingleReplicaBackend);
        Customize(builder, "preprocessor", StatelessService(ServicePorts.Preprocessor, readsModelRepository: backend == BackendKind.Triton));
        Customize(builder, "gateway", StatelessService(ServicePorts.Gateway));
    }

    private static void Customize(IDistributedApplicationBuilder builder, string resourceName, Action<KubernetesResource> configure)
    {
        var resource = builder.Resources.OfType<IComputeResource>().Single(r => r.Name == resourceName);
        builder.CreateResourceBuilder(resource).PublishAsKubernetesService(configure);
    }

    /// <summary>Triton: one GPU, replaced without a surge so a one-GPU node can roll it, model repository from the claim, health probes.</summary>
    public static void TritonWorkload(KubernetesResource resource)
    {
        if (resource.Workload is not Deployment deployment)
        {
            return;
        }

        deployment.Spec.Replicas = 1;
        // maxSurge 0: the old pod frees the GPU before the new one is scheduled.
        deployment.Spec.Strategy.RollingUpdate.MaxSurge = 0;
        deployment.Spec.Strategy.RollingUpdate.MaxUnavailable = 1;

        var pod = deployment.Spec.Template.Spec;
        pod.Tolerations.Add(new TolerationV1 { Key = "nvidia.com/gpu", Operator = "Exists", Effect = "NoSchedule" });
        pod.SecurityContext = RestrictedPod(userId: 1000); // triton-server, the image's unprivileged user
        pod.Volumes.Add(new VolumeV1 { Name = "dshm", EmptyDir = new EmptyDirVolumeSourceV1 { Medium = "Memory", SizeLimit = "2Gi" } });

        foreach (var container in pod.Containers)
        {
            container.Resources ??= new ResourceRequirementsV1();
            container.Resources.Requests["cpu"] = "4";
            container.Resources.Requests["memory"] = "24Gi";
            container.Resources.Requests["nvidia.com/gpu"] = "1";
            container.Resources.Limits["memory"] = "32Gi";
            container.Resources.Limits["nvidia.com/gpu"] = "1";
            // Loading the engine takes minutes: startup allows 15 before liveness applies.
            container.StartupProbe = HttpProbe("/v2/health/ready", TritonBackend.HttpPort, periodSeconds: 10, failureThreshold: 90);
            container.ReadinessProbe = HttpProbe("/v2/health/ready", TritonBackend.HttpPort, periodSeconds: 5, failureThreshold: 3);
            container.LivenessProbe = HttpProbe("/v2/health/live", TritonBackend.HttpPort, periodSeconds: 15, failureThreshold: 3);
            container.SecurityContext = RestrictedContainer();
            container.VolumeMounts.Add(new VolumeMountV1 { Name = "dshm", MountPath = "/dev/shm" });
            container.VolumeMounts.Add(new VolumeMountV1 { Name = "tmp", MountPath = "/tmp" });
        }

        pod.Volumes.Add(new VolumeV1 { Name = "tmp", EmptyDir = new EmptyDirVolumeSourceV1 { SizeLimit = "1Gi" } });
        MountModelRepository(pod);
        resource.AdditionalResources.Add(ModelRepositoryVolumeClaim());
    }

    /// <summary>CpuBackend: one replica (it batches internally and scales with cores), replaced without a surge.</summary>
    public static void SingleReplicaBackend(KubernetesResource resource)
    {
        if (resource.Workload is not Deployment deployment)
        {
            return;
        }

        deployment.Spec.Replicas = 1;
        deployment.Spec.Strategy.RollingUpdate.MaxSurge = 0;
        deployment.Spec.Strategy.RollingUpdate.MaxUnavailable = 1;
        Harden(deployment.Spec.Template.Spec, ServicePorts.CpuBackend, cpuRequest: "2", memoryRequest: "2Gi", memoryLimit: "8Gi");
    }

    /// <summary>Gateway and Preprocessor: hardened, with a HorizontalPodAutoscaler of their own.</summary>
    public static Action<KubernetesResource> StatelessService(ServicePorts ports, bool readsModelRepository = false) => resource =>
    {
        if (resource.Workload is not Deployment deployment)
        {
            return;
        }

        Harden(deployment.Spec.Template.Spec, ports, cpuRequest: "250m", memoryRequest: "256Mi", memoryLimit: "1Gi");
        if (readsModelRepository)
        {
            MountModelRepository(deployment.Spec.Template.Spec);
        }

        resource.AdditionalResources.Add(new HorizontalPodAutoscaler
        {
            Metadata = { Name = deployment.Metadata.Name },
            Spec = new HorizontalPodAutoscalerSpecV1
            {
                ScaleTargetRef = new CrossVersionObjectReferenceV1
                {
                    ApiVersion = "apps/v1",
                    Kind = "Deployment",
                    Name = deployment.Metadata.Name,
                    // A CrossVersionObjectReference has no metadata; null keeps the serializer from writing one.
                    Metadata = null!,
                },
                MinReplicas = 2,
                MaxReplicas = 10,
                TargetCPUUtilizationPercentage = 70,
            },
        });
    };

    private static void MountModelRepository(PodSpecV1 pod)
    {
        pod.Volumes.Add(new VolumeV1
        {
            Name = ModelRepositoryClaim,
            PersistentVolumeClaim = new PersistentVolumeClaimVolumeSourceV1 { ClaimName = ModelRepositoryClaim, ReadOnly = true },
        });
        foreach (var container in pod.Containers)
        {
            container.VolumeMounts.Add(new VolumeMountV1 { Name = ModelRepositoryClaim, MountPath = TritonBackend.ModelRepositoryMount, ReadOnly = true });
        }
    }

    private static PersistentVolumeClaim ModelRepositoryVolumeClaim()
    {
        var claim = new PersistentVolumeClaim
        {
            Metadata = { Name = ModelRepositoryClaim },
            Spec = new PersistentVolumeClaimSpecV1 { Resources = new VolumeResourceRequirementsV1() },
        };
        // ReadWriteMany: filled once by the engine-build Job, read by Triton and every Preprocessor replica.
        claim.Spec.AccessModes.Add("ReadWriteMany");
        claim.Spec.Resources.Requests["storage"] = "60Gi";
        return claim;
    }

    private static void Harden(PodSpecV1 pod, ServicePorts ports, string cpuRequest, string memoryRequest, string memoryLimit)
    {
        pod.AutomountServiceAccountToken = false;
        pod.SecurityContext = RestrictedPod(userId: 1654); // `app`, the .NET images' unprivileged user
        pod.Volumes.Add(new VolumeV1 { Name = "tmp", EmptyDir = new EmptyDirVolumeSourceV1 { SizeLimit = "64Mi" } });
        foreach (var container in pod.Containers)
        {
            container.Resources ??= new ResourceRequirementsV1();
            container.Resources.Requests["cpu"] = cpuRequest;
            container.Resources.Requests["memory"] = memoryRequest;
            container.Resources.Limits["memory"] = memoryLimit;
            container.SecurityContext = RestrictedContainer();
            // A read-only root filesystem still needs a writable /tmp (.NET diagnostics sockets).
            container.VolumeMounts.Add(new VolumeMountV1 { Name = "tmp", MountPath = "/tmp" });
            // gRPC services answer grpc.health.v1.Health on their gRPC port; the Gateway answers /health and /alive.
            if (ports.Grpc is { } grpcPort)
            {
                container.StartupProbe = GrpcProbe(grpcPort, periodSeconds: 2, failureThreshold: 60);
                container.ReadinessProbe = GrpcProbe(grpcPort, periodSeconds: 5, failureThreshold: 3);
                container.LivenessProbe = GrpcProbe(grpcPort, periodSeconds: 10, failureThreshold: 3);
            }
            else
            {
                container.StartupProbe = HttpProbe("/alive", ports.Http, periodSeconds: 2, failureThreshold: 30);
                container.ReadinessProbe = HttpProbe("/health", ports.Http, periodSeconds: 5, failureThreshold: 3);
                container.LivenessProbe = HttpProbe("/alive", ports.Http, periodSeconds: 10, failureThreshold: 3);
            }
        }
    }

    private static PodSecurityContextV1 RestrictedPod(long userId) => new()
    {
        RunAsNonRoot = true,
        RunAsUser = userId,
        RunAsGroup = userId,
        SeccompProfile = new SeccompProfileV1 { Type = "RuntimeDefault" },
    };

    private static SecurityContextV1 RestrictedContainer()
    {
        var context = new SecurityContextV1
        {
            AllowPrivilegeEscalation = false,
            ReadOnlyRootFilesystem = true,
            Capabilities = new CapabilitiesV1(),
        };
        context.Capabilities.Drop.Add("ALL");
        return context;
    }

    private static ProbeV1 HttpProbe(string path, int port, int periodSeconds, int failureThreshold) => new()
    {
        HttpGet = new HttpGetActionV1 { Path = path, Port = new Int32OrStringV1(port) },
        PeriodSeconds = periodSeconds,
        FailureThreshold = failureThreshold,
    };

    private static ProbeV1 GrpcProbe(int port, int periodSeconds, int failureThreshold) => new()
    {
        Grpc = new GrpcActionV1 { Port = port },
        PeriodSeconds = periodSeconds,
        FailureThreshold = failureThreshold,
    };
}
