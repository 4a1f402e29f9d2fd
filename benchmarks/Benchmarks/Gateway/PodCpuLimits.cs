using System.Globalization;
using GptjAspire.Testing;
using YamlDotNet.RepresentationModel;

namespace GptjAspire.Benchmarks.Gateway;

/// <summary>The processor count each service's runtime sees in its Kubernetes pod: the CPU limit of its Deployment under
/// <c>deploy/</c>, rounded up as .NET rounds a cgroup quota, and never more than this machine has.</summary>
/// <remarks>The runtime sizes its thread pool, server GC heaps and socket engines by that count. Started unconstrained on a
/// many-core host, each service would size them for the whole machine, as none does in its pod; and the backend would
/// compute on every core, making the anchor faster than it is deployed.</remarks>
internal static class PodCpuLimits
{
    static readonly Dictionary<string, string[]> Manifests = new()
    {
        ["backend"] = ["deploy", "overlays", "cpu", "cpubackend.yaml"],
        ["preprocessor"] = ["deploy", "base", "preprocessor.yaml"],
        ["gateway"] = ["deploy", "base", "gateway.yaml"],
    };

    public static int ProcessorCount(string resource)
    {
        var path = RepositoryPaths.Combine(Manifests[resource]);
        var limit = ReadCpuLimit(path) ?? throw new InvalidOperationException($"{path}: the Deployment's container sets no CPU limit.");
        return Math.Min(Environment.ProcessorCount, (int)Math.Ceiling(limit));
    }

    static double? ReadCpuLimit(string path)
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(path))
            stream.Load(reader);
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is not YamlMappingNode root || Scalar(root, "kind") != "Deployment")
                continue;
            var container = (YamlMappingNode)((YamlSequenceNode)Path(root, "spec", "template", "spec", "containers")).Children[0];
            return Path(container, "resources", "limits") is YamlMappingNode limits && Scalar(limits, "cpu") is { } cpu ? Quantity(cpu) : null;
        }
        return null;
    }

    // A Kubernetes CPU quantity: whole cores ("2", "1.5") or millicores ("250m").
    static double Quantity(string cpu) => cpu.EndsWith('m')
        ? double.Parse(cpu[..^1], CultureInfo.InvariantCulture) / 1000
        : double.Parse(cpu, CultureInfo.InvariantCulture);

    static YamlNode Path(YamlMappingNode node, params string[] keys)
    {
        YamlNode current = node;
        foreach (var key in keys)
            current = ((YamlMappingNode)current).Children[new YamlScalarNode(key)];
        return current;
    }

    static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? ((YamlScalarNode)value).Value : null;
}
