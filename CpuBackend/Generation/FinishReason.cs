namespace GptjAspire.CpuBackend.Generation;

/// <summary>Why a sequence ended; <see cref="None"/> while it goes on.</summary>
public enum FinishReason
{
    None,
    EndId,
    StopWord,
    Length,
    ContextLimit,
    /// <summary>Never on a token: a cancelled request's stream ends with <see cref="OperationCanceledException"/>; here for consumers that record an outcome per sequence.</summary>
    Cancelled,
}
