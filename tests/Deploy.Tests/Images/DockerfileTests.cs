using GptjAspire.Deploy.Tests.Kubernetes;
using YamlDotNet.RepresentationModel;
using static GptjAspire.Deploy.Tests.Kubernetes.RenderedManifests;
using GptjAspire.Testing;

namespace GptjAspire.Deploy.Tests.Images;

/// <summary>The services' Dockerfiles build in stages, run unprivileged, and expose the ports the manifests use.</summary>
public sealed class DockerfileTests
{
    public static TheoryData<string, string, string> Services => new()
    {
        // project, overlay, Deployment name
        { "Gateway", "cpu", "gateway" },
        { "Preprocessor", "cpu", "preprocessor" },
        { "CpuBackend", "cpu", "backend" },
    };

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Dockerfile_is_multi_stage_non_root_and_exposes_the_deployment_ports(string project, string overlay, string deployment)
    {
        var lines = (await File.ReadAllLinesAsync(RepositoryPaths.Combine(project, "Dockerfile")))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToList();

        var stages = lines.Count(l => l.StartsWith("FROM ", StringComparison.Ordinal));
        Assert.True(stages >= 2, $"{project}: build and runtime stages expected, found {stages}");

        var finalStage = lines.Skip(lines.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.Ordinal))).ToList();
        var user = finalStage.LastOrDefault(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.True(user is not null && user != "USER root" && user != "USER 0", $"{project}: the runtime stage must switch to an unprivileged user");
        Assert.Contains(finalStage, l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal) && l.Contains($"\"{project}.dll\""));

        var exposed = finalStage.Where(l => l.StartsWith("EXPOSE ", StringComparison.Ordinal))
            .SelectMany(l => l["EXPOSE ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet();
        var manifests = RenderedManifests.Parse(await ManifestSchema.RenderAsync(RepositoryPaths.Combine("deploy", "overlays", overlay)));
        var ports = Containers(manifests.Single("Deployment", deployment))
            .SelectMany(c => At(c, "ports") is YamlSequenceNode list ? list.Children : [])
            .Select(p => Scalar(p, "containerPort"))
            .ToHashSet();
        Assert.Equal(ports.Order(), exposed.Order());
    }
}
