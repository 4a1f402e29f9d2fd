using Microsoft.Extensions.Options;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Checks <see cref="GenerationOptions"/> once, at startup (ValidateOnStart) and when a scheduler is built, naming the setting.</summary>
public sealed class GenerationOptionsValidation : IValidateOptions<GenerationOptions>
{
    public ValidateOptionsResult Validate(string? name, GenerationOptions options)
    {
        var failures = new List<string>();
        var section = GenerationOptions.SectionName;
        // Every request passes through the queue, even when the batch has room, so it needs at least one place.
        if (options.MaxQueuedRequests < 1)
            failures.Add($"{section}:MaxQueuedRequests is {options.MaxQueuedRequests}; it must be at least 1.");
        if (options.MaxBatchSequences < 1)
            failures.Add($"{section}:MaxBatchSequences is {options.MaxBatchSequences}; it must be at least 1.");
        if (options.KvCacheBudgetBytes is < 1)
            failures.Add($"{section}:KvCacheBudgetBytes is {options.KvCacheBudgetBytes}; it must be positive, or unset to derive it from the memory limit.");
        if (!Enum.IsDefined(options.KvCacheType))
            failures.Add($"{section}:KvCacheType is {options.KvCacheType}; it must be F32 or F16.");
        if (options.PrefillChunkTokens < 0)
            failures.Add($"{section}:PrefillChunkTokens is {options.PrefillChunkTokens}; it must be 0 (no chunking) or positive.");
        if (options.StallTimeout <= TimeSpan.Zero)
            failures.Add($"{section}:StallTimeout is {options.StallTimeout}; it must be positive.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> when <paramref name="options"/> are invalid.</summary>
    public static void ThrowIfInvalid(GenerationOptions options)
    {
        var result = new GenerationOptionsValidation().Validate(Options.DefaultName, options);
        if (result.Failed)
            throw new OptionsValidationException(Options.DefaultName, typeof(GenerationOptions), result.Failures);
    }
}
