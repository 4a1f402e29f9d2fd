namespace GptjAspire.CpuBackend.Generation;

/// <summary>Thrown when a request's KV cache (its prompt once, plus max new tokens for each of its sequences) is larger than the whole <see cref="GenerationOptions.KvCacheBudgetBytes"/>, so it could never run.</summary>
public sealed class KvCacheBudgetExceededException(long requiredBytes, long budgetBytes, int promptPositions, int sequences, int newPositions)
    : Exception($"The request needs {requiredBytes:N0} bytes of KV cache ({promptPositions} prompt positions + {sequences} sequences x {newPositions} new positions) but the whole budget is {budgetBytes:N0} bytes; ask for fewer tokens or samples.")
{
    public long RequiredBytes { get; } = requiredBytes;

    public long BudgetBytes { get; } = budgetBytes;
}
