// The part of Aspire.Hosting.Kubernetes's public API (13.x) that AppHost/Publishing/KubernetesPublishing.cs uses:
// the same namespaces, type names, member names, types and nullability as the package publishes (dotnet/aspire,
// src/Aspire.Hosting.Kubernetes/api/Aspire.Hosting.Kubernetes.cs), declared here only so that file compiles in the
// default build. Never run; members the publishing code does not use are left out, and so are the constructors of
// KubernetesResource and KubernetesEnvironmentResource, which only Aspire calls.
#pragma warning disable CA1002, CA1034, CA2227 // shaped like the package's API, not like our own

using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Kubernetes;
using Aspire.Hosting.Kubernetes.Resources;

namespace Aspire.Hosting
{
    public static class KubernetesEnvironmentExtensions
    {
        public static IResourceBuilder<KubernetesEnvironmentResource> AddKubernetesEnvironment(this IDistributedApplicationBuilder builder, string name) =>
            throw new NotSupportedException("compile-time contract only");
    }

    public static class KubernetesServiceExtensions
    {
        public static IResourceBuilder<T> PublishAsKubernetesService<T>(this IResourceBuilder<T> builder, Action<KubernetesResource> configure)
            where T : IComputeResource =>
            throw new NotSupportedException("compile-time contract only");
    }
}

namespace Aspire.Hosting.Kubernetes
{
    public sealed class KubernetesEnvironmentResource(string name) : Resource(name);

    public class KubernetesResource(string name) : Resource(name)
    {
        public List<BaseKubernetesResource> AdditionalResources { get; } = [];

        public Workload? Workload { get; set; }
    }
}

namespace Aspire.Hosting.Kubernetes.Resources
{
    public abstract class BaseKubernetesObject
    {
        public string? ApiVersion { get; set; }

        public string? Kind { get; set; }
    }

    public abstract class BaseKubernetesResource : BaseKubernetesObject
    {
        public ObjectMetaV1 Metadata { get; set; } = new();
    }

    public sealed class ObjectMetaV1
    {
        public string Name { get; set; } = "";
    }

    public abstract class Workload : BaseKubernetesResource;

    public sealed class Deployment : Workload
    {
        public DeploymentSpecV1 Spec { get; set; } = new();
    }

    public sealed class DeploymentSpecV1
    {
        public int? Replicas { get; set; }

        public DeploymentStrategyV1 Strategy { get; set; } = new();

        public PodTemplateSpecV1 Template { get; set; } = new();
    }

    public sealed class DeploymentStrategyV1
    {
        public RollingUpdateDeploymentV1 RollingUpdate { get; set; } = new();
    }

    public sealed class RollingUpdateDeploymentV1
    {
        public int MaxSurge { get; set; }

        public int MaxUnavailable { get; set; }
    }

    public sealed class PodTemplateSpecV1
    {
        public PodSpecV1 Spec { get; set; } = new();
    }

    public sealed class PodSpecV1
    {
        public bool? AutomountServiceAccountToken { get; set; }

        public List<ContainerV1> Containers { get; } = [];

        public PodSecurityContextV1? SecurityContext { get; set; }

        public List<TolerationV1> Tolerations { get; } = [];

        public List<VolumeV1> Volumes { get; } = [];
    }

    public sealed class ContainerV1
    {
        public ProbeV1? LivenessProbe { get; set; }

        public ProbeV1? ReadinessProbe { get; set; }

        public ResourceRequirementsV1? Resources { get; set; }

        public SecurityContextV1? SecurityContext { get; set; }

        public ProbeV1? StartupProbe { get; set; }

        public List<VolumeMountV1> VolumeMounts { get; } = [];
    }

    public sealed class ResourceRequirementsV1
    {
        public Dictionary<string, string> Limits { get; } = [];

        public Dictionary<string, string> Requests { get; } = [];
    }

    public sealed class VolumeResourceRequirementsV1
    {
        public Dictionary<string, string> Limits { get; } = [];

        public Dictionary<string, string> Requests { get; } = [];
    }

    public sealed class TolerationV1
    {
        public string Effect { get; set; } = "";

        public string Key { get; set; } = "";

        public string Operator { get; set; } = "";
    }

    public sealed class VolumeV1
    {
        public EmptyDirVolumeSourceV1? EmptyDir { get; set; }

        public string Name { get; set; } = "";

        public PersistentVolumeClaimVolumeSourceV1? PersistentVolumeClaim { get; set; }
    }

    public sealed class EmptyDirVolumeSourceV1
    {
        public string? Medium { get; set; }

        public string? SizeLimit { get; set; }
    }

    public sealed class PersistentVolumeClaimVolumeSourceV1
    {
        public string ClaimName { get; set; } = "";

        public bool? ReadOnly { get; set; }
    }

    public sealed class VolumeMountV1
    {
        public string MountPath { get; set; } = "";

        public string Name { get; set; } = "";

        public bool? ReadOnly { get; set; }
    }

    public sealed class PodSecurityContextV1
    {
        public long? RunAsGroup { get; set; }

        public bool? RunAsNonRoot { get; set; }

        public long? RunAsUser { get; set; }

        public SeccompProfileV1? SeccompProfile { get; set; }
    }

    public sealed class SecurityContextV1
    {
        public bool? AllowPrivilegeEscalation { get; set; }

        public CapabilitiesV1? Capabilities { get; set; }

        public bool? ReadOnlyRootFilesystem { get; set; }
    }

    public sealed class CapabilitiesV1
    {
        public List<string> Drop { get; } = [];
    }

    public sealed class SeccompProfileV1
    {
        public string Type { get; set; } = "";
    }

    public sealed class ProbeV1
    {
        public int? FailureThreshold { get; set; }

        public GrpcActionV1? Grpc { get; set; }

        public HttpGetActionV1? HttpGet { get; set; }

        public int? PeriodSeconds { get; set; }
    }

    public sealed class HttpGetActionV1
    {
        public string Path { get; set; } = "";

        public Int32OrStringV1? Port { get; set; }
    }

    public sealed class GrpcActionV1
    {
        public int Port { get; set; }
    }

    public sealed record Int32OrStringV1(int? Number = null, string? Text = null)
    {
        public Int32OrStringV1(int value) : this(value, null)
        {
        }
    }

    public sealed class HorizontalPodAutoscaler : BaseKubernetesResource
    {
        public HorizontalPodAutoscalerSpecV1 Spec { get; set; } = new();
    }

    public sealed class HorizontalPodAutoscalerSpecV1
    {
        public int MaxReplicas { get; set; }

        public int? MinReplicas { get; set; }

        public CrossVersionObjectReferenceV1 ScaleTargetRef { get; set; } = new();

        public int? TargetCPUUtilizationPercentage { get; set; }
    }

    public sealed class CrossVersionObjectReferenceV1 : BaseKubernetesResource
    {
        public string Name { get; set; } = "";
    }

    public sealed class PersistentVolumeClaim : BaseKubernetesResource
    {
        public PersistentVolumeClaimSpecV1 Spec { get; set; } = new();
    }

    public sealed class PersistentVolumeClaimSpecV1
    {
        public List<string> AccessModes { get; } = [];

        public VolumeResourceRequirementsV1 Resources { get; set; } = new();
    }
}
