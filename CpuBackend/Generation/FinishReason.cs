namespace GptjAspire.CpuBackend.Generation;

/// <summary>Why a sequence ended; <see cref="None"/> while it goes on.</summary>
public enum FinishReason
{
    None,
    EndId,
    StopWord,
    Length,
    ContextLimit,
    Cancelled,
}
