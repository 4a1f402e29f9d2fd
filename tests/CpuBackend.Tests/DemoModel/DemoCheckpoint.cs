using GptjAspire.Testing;

namespace GptjAspire.CpuBackend.Tests.DemoModel;

/// <summary>The committed demo checkpoint (models/gptj-vi-demo) of this checkout.</summary>
public static class DemoCheckpoint
{
    public static readonly string Directory = RepositoryPaths.Combine("models", "gptj-vi-demo");
}
