using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Checks a request before it is queued, so a bad one fails at once with an <see cref="ArgumentException"/> naming the field.</summary>
internal static class GenerationRequestValidation
{
    public static void ThrowIfInvalid(GenerationRequest request, GptjConfig config, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Id, "Id");
        ArgumentNullException.ThrowIfNull(request.PromptIds, "PromptIds");
        ArgumentNullException.ThrowIfNull(request.Sampling, "Sampling");
        ArgumentNullException.ThrowIfNull(request.StopWords, "StopWords");
        ArgumentNullException.ThrowIfNull(request.BadWords, "BadWords");

        if (request.PromptIds.Length == 0)
            throw new ArgumentException("The prompt has no tokens.", "PromptIds");
        if (request.PromptIds.Length >= config.ContextLength)
            throw new ArgumentException(
                $"The prompt has {request.PromptIds.Length} tokens; the context window of {config.ContextLength} leaves no room for a new one.",
                "PromptIds");
        ThrowIfOutOfVocabulary(request.PromptIds, config.VocabSize, "PromptIds");
        if (request.MaxNewTokens < 1)
            throw new ArgumentOutOfRangeException("MaxNewTokens", request.MaxNewTokens, "MaxNewTokens must be at least 1.");
        if (request.NumSequences < 1 || request.NumSequences > options.MaxBatchSequences)
            throw new ArgumentOutOfRangeException("NumSequences", request.NumSequences,
                $"NumSequences must be between 1 and {options.MaxBatchSequences} (Generation:MaxBatchSequences).");
        Sampler.ThrowIfInvalid(request.Sampling);
        foreach (var word in request.StopWords)
        {
            if (word is null || word.Length == 0)
                throw new ArgumentException("A stop word has no tokens.", "StopWords");
        }
        foreach (var word in request.BadWords)
        {
            if (word is null || word.Length == 0)
                throw new ArgumentException("A bad word has no tokens.", "BadWords");
            ThrowIfOutOfVocabulary(word, config.VocabSize, "BadWords");
        }
    }

    private static void ThrowIfOutOfVocabulary(int[] ids, int vocabSize, string field)
    {
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)vocabSize)
                throw new ArgumentOutOfRangeException(field, id, $"Token id {id} is outside the vocabulary [0, {vocabSize}).");
        }
    }
}
