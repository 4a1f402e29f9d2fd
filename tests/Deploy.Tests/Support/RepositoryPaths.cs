namespace GptjAspire.Deploy.Tests.Support;

/// <summary>Locates files of this repository from the test binaries (the folder holding GptjAspire.sln).</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "GptjAspire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"GptjAspire.sln not found above {AppContext.BaseDirectory}");
    }
}
