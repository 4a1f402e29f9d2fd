namespace GptjAspire.CpuBackend.Tests.DemoModel;

/// <summary>Finds the committed demo checkpoint (models/gptj-vi-demo) from the test's output folder.</summary>
public static class DemoCheckpoint
{
    public static readonly string Directory = Find();

    private static string Find()
    {
        // Next to the binaries when a project copies it there, else at the top of the repository.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "models", "gptj-vi-demo");
            if (File.Exists(Path.Combine(candidate, "config.json")))
                return candidate;
        }
        throw new DirectoryNotFoundException($"models/gptj-vi-demo not found above {AppContext.BaseDirectory}");
    }
}
