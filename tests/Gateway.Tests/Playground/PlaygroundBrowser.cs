using System.Diagnostics;
using System.Text.Json;
using GptjAspire.Testing;

namespace GptjAspire.Gateway.Tests.Playground;

/// <summary>Runs browser/drive.mjs (playwright-core driving Debian's chromium) against a Gateway and returns what the page showed.</summary>
public static class PlaygroundBrowser
{
    const string Chromium = "/usr/bin/chromium";

    // A guard against a hung browser, not a speed requirement: past it the node process tree is killed and the test fails.
    static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    static readonly string Folder = Path.Combine(RepositoryPaths.Root, "tests", "Gateway.Tests", "Playground", "browser");

    public static async Task<JsonElement> RunAsync(string scenario, Uri gateway)
    {
        if (!File.Exists(Chromium))
            throw new InvalidOperationException($"{Chromium} is missing: the playground test needs Debian's chromium (apt-get install -y chromium).");
        if (!Directory.Exists(Path.Combine(Folder, "node_modules", "playwright-core")))
            throw new InvalidOperationException($"playwright-core is not installed: run npm ci --prefix {Folder}");

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            ArgumentList = { "drive.mjs", scenario, gateway.ToString() },
        };
        using var node = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        try
        {
            var stdout = node.StandardOutput.ReadToEndAsync();
            var stderr = node.StandardError.ReadToEndAsync();
            using var guard = new CancellationTokenSource(HangGuard);
            await node.WaitForExitAsync(guard.Token);
            if (node.ExitCode != 0)
                throw new InvalidOperationException($"drive.mjs {scenario} exited {node.ExitCode}:\n{await stderr}\n{await stdout}");
            return JsonDocument.Parse(await stdout).RootElement.Clone();
        }
        finally
        {
            if (!node.HasExited)
                node.Kill(entireProcessTree: true);
        }
    }
}
