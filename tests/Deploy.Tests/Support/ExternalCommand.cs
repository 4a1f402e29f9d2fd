using System.Diagnostics;
using GptjAspire.Testing;

namespace GptjAspire.Deploy.Tests.Support;

/// <summary>What an external command printed and how it ended.</summary>
internal sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs a tool (kubectl, node, python) to completion, feeding stdin and capturing both outputs.</summary>
internal static class ExternalCommand
{
    // A guard against a hung tool, not a speed requirement: past it the process is killed and the test fails.
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    public static async Task<CommandResult> RunAsync(string fileName, IEnumerable<string> arguments, string? stdin = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? RepositoryPaths.Root,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin);
            }

            process.StandardInput.Close();
            using var guard = new CancellationTokenSource(HangGuard);
            await process.WaitForExitAsync(guard.Token);
            return new CommandResult(process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>The full path of <paramref name="tool"/> on PATH, or a failure that says what to install.</summary>
    public static string Require(string tool, string howToInstall)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);
        return path ?? throw new InvalidOperationException($"'{tool}' is not on PATH: {howToInstall}");
    }
}
