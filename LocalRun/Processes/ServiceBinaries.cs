using System.Reflection;

namespace GptjAspire.LocalRun.Processes;

/// <summary>Where the build put each service's entry assembly (recorded into LocalRun.dll by its project file).</summary>
public static class ServiceBinaries
{
    public const string CpuBackend = "CpuBackend";
    public const string Preprocessor = "Preprocessor";
    public const string Gateway = "Gateway";

    /// <summary>Full path of <paramref name="project"/>'s dll; throws when it was not built.</summary>
    public static string PathOf(string project)
    {
        var path = typeof(ServiceBinaries).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == $"service:{project}")?.Value
            ?? throw new InvalidOperationException($"LocalRun was built without a reference to {project}.");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{project} is not built at '{path}'; build LocalRun (dotnet build LocalRun -c Release) first.", path);
    }
}
