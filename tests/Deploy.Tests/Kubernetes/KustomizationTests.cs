using YamlDotNet.RepresentationModel;
using static GptjAspire.Deploy.Tests.Kubernetes.RenderedManifests;
using GptjAspire.Testing;

namespace GptjAspire.Deploy.Tests.Kubernetes;

/// <summary>Every kustomization under deploy/ renders, validates against the Kubernetes API schema, and keeps the deployment's promises.</summary>
public sealed class KustomizationTests
{
    public static TheoryData<string> Kustomizations => new()
    {
        "deploy/overlays/gpu",
        "deploy/overlays/cpu",
        "deploy/jobs/build-engine",
    };

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public async Task Kustomization_renders_and_every_object_validates_against_the_Kubernetes_schema(string kustomization)
    {
        var yaml = await ManifestSchema.RenderAsync(RepositoryPaths.Combine(kustomization.Split('/')));

        var result = await ManifestSchema.ValidateAsync(yaml);

        Assert.True(result.ExitCode == 0, $"{kustomization}:\n{result}");
    }

    [Fact]
    public async Task Validator_rejects_an_unknown_field_a_wrong_type_and_a_missing_required_field()
    {
        const string Broken = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: broken
            spec:
              replicas: "2"
              selector: {matchLabels: {app: x}}
              template:
                spec:
                  containers:
                    - image: x
                      readinessProbe: {httpGett: {path: /}}
            """;

        var result = await ManifestSchema.ValidateAsync(Broken);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("httpGett: unknown field", result.Stdout);
        Assert.Contains(".spec.replicas: expected a number", result.Stdout);
        Assert.Contains("containers[0].name: required field missing", result.Stdout);
    }

    [Fact]
    public async Task Validator_rejects_an_API_version_the_schema_does_not_have()
    {
        var result = await ManifestSchema.ValidateAsync("apiVersion: autoscaling/v2beta9\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no Kubernetes API type", result.Stdout);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Backend_is_a_Service_named_backend_with_a_grpc_port_8001(string overlay)
    {
        var manifests = await RenderOverlayAsync(overlay);

        var service = manifests.Single("Service", "backend");
        var ports = (YamlSequenceNode)At(service, "spec", "ports")!;
        Assert.Contains(ports.Children, p => Scalar(p, "name") == "grpc" && Scalar(p, "port") == "8001");

        var preprocessor = Containers(manifests.Single("Deployment", "preprocessor")).Single();
        Assert.Equal("http://backend:8001", EnvValue(preprocessor, "services__backend__grpc__0"));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_container_runs_non_root_read_only_without_privilege_escalation_or_capabilities(string overlay)
    {
        var manifests = await RenderOverlayAsync(overlay);

        foreach (var workload in manifests.OfKind("Deployment"))
        {
            var name = Scalar(workload, "metadata", "name");
            Assert.True(Scalar(workload, "spec", "template", "spec", "securityContext", "runAsNonRoot") == "true", $"{name}: runAsNonRoot");
            foreach (var container in Containers(workload))
            {
                Assert.True(Scalar(container, "securityContext", "readOnlyRootFilesystem") == "true", $"{name}: readOnlyRootFilesystem");
                Assert.True(Scalar(container, "securityContext", "allowPrivilegeEscalation") == "false", $"{name}: allowPrivilegeEscalation");
                var dropped = At(container, "securityContext", "capabilities", "drop") as YamlSequenceNode;
                Assert.True(dropped is not null && dropped.Children.Any(c => ((YamlScalarNode)c).Value == "ALL"), $"{name}: capabilities.drop ALL");
                Assert.True(At(container, "resources", "requests") is not null && At(container, "resources", "limits") is not null, $"{name}: resources");
                Assert.True(At(container, "readinessProbe") is not null && At(container, "livenessProbe") is not null && At(container, "startupProbe") is not null, $"{name}: probes");
            }
        }
    }

    [Fact]
    public async Task Gpu_backend_requests_a_gpu_is_recreated_and_reads_the_model_repository_read_only()
    {
        var manifests = await RenderOverlayAsync("gpu");

        var backend = manifests.Single("Deployment", "backend");
        var triton = Containers(backend).Single();
        Assert.Equal("1", Scalar(triton, "resources", "limits", "nvidia.com/gpu"));
        Assert.Equal("Recreate", Scalar(backend, "spec", "strategy", "type"));
        Assert.Equal("/v2/health/ready", Scalar(triton, "readinessProbe", "httpGet", "path"));

        var mounts = (YamlSequenceNode)At(triton, "volumeMounts")!;
        Assert.Contains(mounts.Children, m => Scalar(m, "mountPath") == "/models" && Scalar(m, "readOnly") == "true");
        manifests.Single("PersistentVolumeClaim", "model-repository");
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Only_the_gateway_is_exposed_by_an_ingress_and_only_the_preprocessor_reaches_the_backend(string overlay)
    {
        var manifests = await RenderOverlayAsync(overlay);

        var ingresses = manifests.OfKind("Ingress").ToList();
        var backends = ingresses.SelectMany(i => ((YamlSequenceNode)At(i, "spec", "rules")!).Children)
            .SelectMany(r => ((YamlSequenceNode)At(r, "http", "paths")!).Children)
            .Select(p => Scalar(p, "backend", "service", "name"))
            .Distinct();
        Assert.Equal(["gateway"], backends);

        var backendPolicy = manifests.Single("NetworkPolicy", "backend-from-preprocessor");
        var from = (YamlSequenceNode)At((YamlMappingNode)((YamlSequenceNode)At(backendPolicy, "spec", "ingress")!).Children[0], "from")!;
        Assert.Equal("preprocessor", Scalar(from.Children.Single(), "podSelector", "matchLabels", "app.kubernetes.io/name"));
        Assert.NotNull(manifests.Single("NetworkPolicy", "default-deny-ingress"));
    }

    [Fact]
    public async Task Gateway_and_preprocessor_scale_on_their_own_and_have_disruption_budgets()
    {
        var manifests = await RenderOverlayAsync("cpu");

        foreach (var name in new[] { "gateway", "preprocessor" })
        {
            var hpa = manifests.Single("HorizontalPodAutoscaler", name);
            Assert.Equal(name, Scalar(hpa, "spec", "scaleTargetRef", "name"));
            manifests.Single("PodDisruptionBudget", name);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Gateway_reads_its_api_keys_from_the_generated_secret_mounted_read_only(string overlay)
    {
        var manifests = await RenderOverlayAsync(overlay);

        var secret = manifests.OfKind("Secret").Single(s => Scalar(s, "metadata", "name")!.StartsWith("gateway-api-keys-", StringComparison.Ordinal));
        var secretName = Scalar(secret, "metadata", "name");
        Assert.NotNull(At(secret, "data", "keys"));
        var gateway = manifests.Single("Deployment", "gateway");
        var volumes = (YamlSequenceNode)At(gateway, "spec", "template", "spec", "volumes")!;
        var volume = volumes.Children.Single(v => Scalar(v, "secret", "secretName") == secretName);
        var container = Containers(gateway).Single();
        var mount = ((YamlSequenceNode)At(container, "volumeMounts")!).Children.Single(m => Scalar(m, "name") == Scalar(volume, "name"));
        Assert.Equal("true", Scalar(mount, "readOnly"));
        var file = ((YamlSequenceNode)At(container, "env")!).Children.Single(e => Scalar(e, "name") == "Gateway__ApiKeysFile");
        Assert.Equal($"{Scalar(mount, "mountPath")}/keys", Scalar(file, "value"));
    }

    public static TheoryData<string> Overlays => new() { "gpu", "cpu" };

    private static async Task<RenderedManifests> RenderOverlayAsync(string overlay) =>
        RenderedManifests.Parse(await ManifestSchema.RenderAsync(RepositoryPaths.Combine("deploy", "overlays", overlay)));

    private static string? EnvValue(YamlMappingNode container, string name) =>
        At(container, "env") is YamlSequenceNode env
            ? env.Children.Where(e => Scalar(e, "name") == name).Select(e => Scalar(e, "value")).FirstOrDefault()
            : null;
}
