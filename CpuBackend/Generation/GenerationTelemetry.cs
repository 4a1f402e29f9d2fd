using System.Diagnostics;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Names of the generation scheduler's trace source and meter (ServiceDefaults exports every <c>GptjAspire.*</c> source).</summary>
public static class GenerationTelemetry
{
    public const string Name = "GptjAspire.CpuBackend.Generation";

    /// <summary>One span per request, from arrival to its last token.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);
}
