using YamlDotNet.RepresentationModel;

namespace GptjAspire.Deploy.Tests.Kubernetes;

/// <summary>The objects of a rendered multi-document manifest, for checks on their content.</summary>
internal sealed class RenderedManifests
{
    private RenderedManifests(IReadOnlyList<YamlMappingNode> objects) => Objects = objects;

    public IReadOnlyList<YamlMappingNode> Objects { get; }

    public static RenderedManifests Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return new RenderedManifests(stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList());
    }

    public IEnumerable<YamlMappingNode> OfKind(string kind) => Objects.Where(o => Scalar(o, "kind") == kind);

    public YamlMappingNode Single(string kind, string name) =>
        OfKind(kind).Single(o => Scalar(o, "metadata", "name") == name);

    public static string? Scalar(YamlNode node, params string[] path) => At(node, path) is YamlScalarNode s ? s.Value : null;

    public static YamlNode? At(YamlNode node, params string[] path)
    {
        var current = node;
        foreach (var key in path)
        {
            if (current is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }

            current = next;
        }

        return current;
    }

    public static IEnumerable<YamlMappingNode> Containers(YamlMappingNode workload) =>
        At(workload, "spec", "template", "spec", "containers") is YamlSequenceNode list ? list.Children.OfType<YamlMappingNode>() : [];
}
