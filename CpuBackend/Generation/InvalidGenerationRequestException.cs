namespace GptjAspire.CpuBackend.Generation;

/// <summary>A request the scheduler refuses before queueing it: the caller's fault, unlike an <see cref="ArgumentException"/>
/// from the engine, which is a broken invariant (ours).</summary>
/// <param name="field">The <see cref="GenerationRequest"/> field at fault, e.g. <c>MaxNewTokens</c> or <c>Sampling.TopP</c>.</param>
/// <param name="message">What is wrong, in words that need no field name (the serving layer names the field in its own terms).</param>
public sealed class InvalidGenerationRequestException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}
