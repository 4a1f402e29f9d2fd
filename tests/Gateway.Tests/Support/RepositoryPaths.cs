namespace GptjAspire.Gateway.Tests.Support;

/// <summary>Where the checkout is, for tests that run scripts kept beside the sources (node drivers, SDK reports).</summary>
public static class RepositoryPaths
{
    /// <summary>The folder holding GptjAspire.sln, found upwards from the test binaries.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GptjAspire.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"GptjAspire.sln not found above {AppContext.BaseDirectory}");
    }
}
