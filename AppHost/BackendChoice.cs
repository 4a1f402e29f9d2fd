using Microsoft.Extensions.Configuration;

namespace GptjAspire.AppHost;

/// <summary>Which server plays the `backend` resource.</summary>
public enum BackendKind
{
    /// <summary>CpuBackend: GPT-J in C# on the CPU (the default; needs no GPU and no container runtime).</summary>
    Cpu,

    /// <summary>NVIDIA Triton with the TensorRT-LLM backend in a GPU container.</summary>
    Triton,
}

/// <summary>Reads the backend choice from configuration key <c>Backend</c> (<c>cpu</c> or <c>triton</c>).</summary>
public static class BackendChoice
{
    public const string ConfigurationKey = "Backend";

    /// <summary>The configured backend; <see cref="BackendKind.Cpu"/> unless a GPU backend is asked for.</summary>
    public static BackendKind From(IConfiguration configuration) => configuration[ConfigurationKey]?.Trim().ToLowerInvariant() switch
    {
        null or "" or "cpu" => BackendKind.Cpu,
        "triton" or "gpu" => BackendKind.Triton,
        var other => throw new InvalidOperationException(
            $"Configuration '{ConfigurationKey}' is '{other}'; use 'cpu' (CpuBackend) or 'triton' (NVIDIA Triton on a GPU)."),
    };
}
