namespace GptjAspire.CpuBackend.Generation;

/// <summary>Thrown when a request's KV cache (its sequences times prompt + max new tokens) is larger than the whole <see cref="GenerationOptions.KvCacheBudgetBytes"/>, so it could never run.</summary>
public sealed class KvCacheBudgetExceededException(long requiredBytes, long budgetBytes, int sequences, int positions)
    : Exception($"The request needs {requiredBytes:N0} bytes of KV cache ({sequences} sequences x {positions} positions) but the whole budget is {budgetBytes:N0} bytes; ask for fewer tokens or samples.")
{
    public long RequiredBytes { get; } = requiredBytes;

    public long BudgetBytes { get; } = budgetBytes;
}
