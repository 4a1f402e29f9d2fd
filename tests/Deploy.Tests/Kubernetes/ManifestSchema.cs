using System.Collections.Concurrent;
using GptjAspire.Deploy.Tests.Support;
using GptjAspire.Testing;

namespace GptjAspire.Deploy.Tests.Kubernetes;

/// <summary>Renders kustomizations with `kubectl kustomize` and checks manifests against the Kubernetes API schema (validate-manifests.mjs).</summary>
internal static class ManifestSchema
{
    private static readonly string ValidatorDirectory = RepositoryPaths.Combine("tests", "Deploy.Tests", "Kubernetes");

    // Each kustomization is rendered once per test run; many tests read the same output.
    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> Rendered = new();

    public static Task<string> RenderAsync(string kustomizationDirectory) =>
        Rendered.GetOrAdd(kustomizationDirectory, dir => new Lazy<Task<string>>(() => RenderOnceAsync(dir))).Value;

    private static async Task<string> RenderOnceAsync(string kustomizationDirectory)
    {
        var kubectl = ExternalCommand.Require("kubectl", "install kubectl (it embeds kustomize)");
        var result = await ExternalCommand.RunAsync(kubectl, ["kustomize", kustomizationDirectory]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"kubectl kustomize {kustomizationDirectory} failed: {result}");
        }

        return result.Stdout;
    }

    public static async Task<CommandResult> ValidateAsync(string manifestsYaml)
    {
        var node = ExternalCommand.Require("node", "install Node.js");
        if (!Directory.Exists(Path.Combine(ValidatorDirectory, "node_modules", "@kubernetes", "client-node")))
        {
            throw new InvalidOperationException($"the schema library is not installed: run `npm ci --prefix {ValidatorDirectory}`");
        }

        return await ExternalCommand.RunAsync(node, ["validate-manifests.mjs"], manifestsYaml, ValidatorDirectory);
    }
}
