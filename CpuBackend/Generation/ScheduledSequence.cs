using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>One sample of a running request: its KV cache, its sampler and its tokens (prompt, then generated).</summary>
internal sealed class ScheduledSequence
{
    private readonly int[] _tokens;
    private readonly int _promptLength;
    private int _count;

    public ScheduledSequence(int index, KvCache cache, Sampler sampler, int[] prompt, int capacity)
    {
        Index = index;
        Cache = cache;
        Sampler = sampler;
        _tokens = new int[capacity];
        prompt.CopyTo(_tokens, 0);
        _promptLength = prompt.Length;
        _count = prompt.Length;
    }

    public int Index { get; }

    public KvCache Cache { get; }

    public Sampler Sampler { get; }

    public FinishReason Finish { get; private set; }

    /// <summary>Prompt and generated tokens: the context the sampler's repetition penalty and bad words look at.</summary>
    public ReadOnlySpan<int> Context => _tokens.AsSpan(0, _count);

    /// <summary>The newest token, the input of the next decode step.</summary>
    public int LastToken => _tokens[_count - 1];

    public int GeneratedCount => _count - _promptLength;

    /// <summary>Appends a generated token and decides whether it is the sequence's last.</summary>
    public SequenceToken Append(SampledToken sampled, GenerationRequest request, int contextLength)
    {
        _tokens[_count++] = sampled.TokenId;
        var generated = _tokens.AsSpan(_promptLength, GeneratedCount);
        if (sampled.TokenId == request.EndId)
            Finish = FinishReason.EndId;
        else if (EndsWithStopWord(generated, request.StopWords))
            Finish = FinishReason.StopWord;
        else if (GeneratedCount == request.MaxNewTokens)
            Finish = FinishReason.Length;
        else if (_count == contextLength)
            Finish = FinishReason.ContextLimit; // the window holds prompt + generated; no position is left
        return new SequenceToken(Index, sampled.TokenId, sampled.LogProb, Finish);
    }

    private static bool EndsWithStopWord(ReadOnlySpan<int> generated, IReadOnlyList<int[]> stopWords)
    {
        foreach (var word in stopWords)
        {
            if (generated.EndsWith(word))
                return true;
        }
        return false;
    }
}
