namespace GptjAspire.Preprocessor.Backend;

/// <summary>What the Preprocessor last learnt about the backend's model; <see cref="Ready"/> gates every generation and the health check.</summary>
public sealed record BackendState(bool Ready, string Detail, string Platform = "", int MaxBatchSize = 0, BackendLimits? Limits = null)
{
    public static readonly BackendState Unknown = new(false, "the backend has not been reached yet");
}
