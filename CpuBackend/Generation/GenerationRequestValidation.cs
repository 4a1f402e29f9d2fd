using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Checks a request before it is queued, so a bad one fails at once with an <see cref="InvalidGenerationRequestException"/> naming the field.</summary>
/// <remarks>A null where the request type needs an object is the calling code's bug, not a bad request: <see cref="ArgumentNullException"/>.</remarks>
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
            throw new InvalidGenerationRequestException("PromptIds", "The prompt has no tokens.");
        if (request.PromptIds.Length >= config.ContextLength)
            throw new InvalidGenerationRequestException("PromptIds",
                $"The prompt has {request.PromptIds.Length} tokens; the context window of {config.ContextLength} leaves no room for a new one.");
        ThrowIfOutOfVocabulary(request.PromptIds, config.VocabSize, "PromptIds");
        if (request.MaxNewTokens < 1)
            throw new InvalidGenerationRequestException("MaxNewTokens", $"The number of new tokens must be at least 1; got {request.MaxNewTokens}.");
        if (request.NumSequences < 1 || request.NumSequences > options.MaxBatchSequences)
            throw new InvalidGenerationRequestException("NumSequences",
                $"The number of sequences must be between 1 and {options.MaxBatchSequences} (Generation:MaxBatchSequences); got {request.NumSequences}.");
        Sampler.ThrowIfInvalid(request.Sampling);
        foreach (var word in request.StopWords)
        {
            if (word is null || word.Length == 0)
                throw new InvalidGenerationRequestException("StopWords", "A stop word has no tokens.");
            ThrowIfOutOfVocabulary(word, config.VocabSize, "StopWords");
        }
        foreach (var word in request.BadWords)
        {
            if (word is null || word.Length == 0)
                throw new InvalidGenerationRequestException("BadWords", "A bad word has no tokens.");
            ThrowIfOutOfVocabulary(word, config.VocabSize, "BadWords");
        }
    }

    private static void ThrowIfOutOfVocabulary(int[] ids, int vocabSize, string field)
    {
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)vocabSize)
                throw new InvalidGenerationRequestException(field, $"Token id {id} is outside the vocabulary [0, {vocabSize}).");
        }
    }
}
