namespace GptjAspire.Testing;

/// <summary>The checkout the binaries were built in: the folder holding GptjAspire.sln, found upwards from them. Linked into
/// the test projects and the benchmarks, so every script, manifest and fixture beside the sources is found the same way.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "GptjAspire.sln")))
                return directory.FullName;
        throw new InvalidOperationException($"GptjAspire.sln not found above {AppContext.BaseDirectory}: run from inside the repository.");
    }
}
