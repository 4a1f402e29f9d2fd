using YamlDotNet.RepresentationModel;
using static GptjAspire.Deploy.Tests.Kubernetes.RenderedManifests;
using GptjAspire.Testing;

namespace GptjAspire.Deploy.Tests.Kubernetes;

/// <summary>Prometheus finds every pod's /metrics, and the autoscalers scale on serving metrics that prometheus-adapter serves.</summary>
public sealed class MetricsScalingTests
{
    public static TheoryData<string> Overlays => new() { "gpu", "cpu" };

    [Fact]
    public async Task Gateway_scales_on_requests_in_flight_and_queued_not_on_cpu()
    {
        var manifests = await RenderOverlayAsync("cpu");

        var hpa = manifests.Single("HorizontalPodAutoscaler", "gateway");
        var metrics = ((YamlSequenceNode)At(hpa, "spec", "metrics")!).Children;
        Assert.All(metrics, m => Assert.Equal("Pods", Scalar(m, "type")));
        Assert.Equal(["gptj_gateway_requests_active", "gptj_gateway_requests_queued"], metrics.Select(m => Scalar(m, "pods", "metric", "name")));
        Assert.All(metrics, m => Assert.Equal("AverageValue", Scalar(m, "pods", "target", "type")));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_custom_or_external_metric_an_autoscaler_reads_has_a_prometheus_adapter_rule(string overlay)
    {
        var manifests = await RenderOverlayAsync(overlay);
        var adapter = LoadYaml(RepositoryPaths.Combine("deploy", "monitoring", "prometheus-adapter-values.yaml"));

        var rules = new Dictionary<string, string> { ["Pods"] = "custom", ["External"] = "external" };
        var read = manifests.OfKind("HorizontalPodAutoscaler")
            .SelectMany(h => ((YamlSequenceNode)At(h, "spec", "metrics")!).Children)
            .Where(m => rules.ContainsKey(Scalar(m, "type")!))
            .Select(m => (Type: Scalar(m, "type")!, Name: Scalar(m, Scalar(m, "type")!.ToLowerInvariant(), "metric", "name")!))
            .ToList();

        Assert.NotEmpty(read);
        foreach (var (type, name) in read)
        {
            var section = (YamlSequenceNode)At(adapter, "rules", rules[type])!;
            Assert.Contains(section.Children, rule => Scalar(rule, "seriesQuery")!.StartsWith(name + "{", StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_pod_is_scraped_on_its_metrics_port_which_only_Prometheus_reaches_and_no_Service_exposes(string overlay)
    {
        var manifests = await RenderOverlayAsync(overlay);

        foreach (var deployment in manifests.OfKind("Deployment"))
        {
            var name = Scalar(deployment, "metadata", "name")!;
            var annotations = At(deployment, "spec", "template", "metadata", "annotations");
            Assert.True(annotations is not null, $"{name} has no scrape annotations");
            Assert.Equal("true", Scalar(annotations!, "prometheus.io/scrape"));
            Assert.Equal("/metrics", Scalar(annotations!, "prometheus.io/path"));
            var container = Containers(deployment).Single();
            var port = ((YamlSequenceNode)At(container, "ports")!).Children.Single(p => Scalar(p, "name") == "metrics");
            Assert.Equal(Scalar(port, "containerPort"), Scalar(annotations!, "prometheus.io/port"));
            if (Scalar(container, "name") == "triton")
                continue; // Triton serves its own metrics on its own port
            // Our services answer /metrics only on the management endpoint, which is this port, and no Service routes to it.
            var env = (YamlSequenceNode)At(container, "env")!;
            var management = env.Children.Single(e => Scalar(e, "name") == "Kestrel__Endpoints__management__Url");
            Assert.EndsWith(":" + Scalar(port, "containerPort"), Scalar(management, "value"));
            foreach (var service in manifests.OfKind("Service").Where(s => Scalar(s, "metadata", "name") == name))
                Assert.DoesNotContain(((YamlSequenceNode)At(service, "spec", "ports")!).Children,
                    p => Scalar(p, "targetPort") is "metrics" || Scalar(p, "targetPort") == Scalar(port, "containerPort"));
        }

        var policy = manifests.Single("NetworkPolicy", "metrics-from-observability");
        var rule = ((YamlSequenceNode)At(policy, "spec", "ingress")!).Children.Single();
        Assert.Equal("observability", Scalar(((YamlSequenceNode)At(rule, "from")!).Children.Single(), "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"));
        Assert.Equal("metrics", Scalar(((YamlSequenceNode)At(rule, "ports")!).Children.Single(), "port"));
    }

    private static async Task<RenderedManifests> RenderOverlayAsync(string overlay) =>
        RenderedManifests.Parse(await ManifestSchema.RenderAsync(RepositoryPaths.Combine("deploy", "overlays", overlay)));

    private static YamlMappingNode LoadYaml(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }
}
