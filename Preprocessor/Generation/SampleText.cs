using System.Text;
using GptjAspire.Gptj.V1;
using GptjAspire.Preprocessor.Text;
using GptjAspire.Tokenizer;

namespace GptjAspire.Preprocessor.Generation;

/// <summary>Turns one sample's generated tokens into final text: incremental UTF-8-safe decoding, stop sequences, finish reason and token count.</summary>
public sealed class SampleText
{
    readonly IncrementalDecoder _decoder;
    readonly StopSequenceFilter _stops;
    readonly int? _endId;
    readonly int _maxNewTokens;
    readonly StringBuilder _text = new();

    public SampleText(BpeTokenizer tokenizer, GenerationPlan plan)
    {
        _decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        _stops = new StopSequenceFilter(plan.Stop);
        _endId = plan.EndId;
        _maxNewTokens = plan.MaxNewTokens;
    }

    /// <summary>Generated tokens that count toward usage (end-of-text excluded; nothing after a stop sequence).</summary>
    public int TokenCount { get; private set; }

    public FinishReason Finish { get; private set; }

    public bool Finished => Finish != FinishReason.Unspecified;

    /// <summary>All text released so far.</summary>
    public string Text => _text.ToString();

    /// <summary>Consumes one generated token; returns the text it made final (possibly empty).</summary>
    public string Append(int tokenId)
    {
        if (Finished)
            return "";
        if (tokenId == _endId)
            return End(FinishReason.Stop);

        TokenCount++;
        var released = Release(_stops.Append(_decoder.Append(tokenId)));
        if (_stops.Stopped)
        {
            Finish = FinishReason.Stop;
            return released;
        }
        return TokenCount >= _maxNewTokens ? released + End(FinishReason.Length) : released;
    }

    /// <summary>Ends the sample because the backend sent its last token. Short of max_new_tokens that was an end of text the
    /// backend kept to itself (the plan's budget keeps the context window out of reach), so the reason is stop.</summary>
    public string EndOfOutput() => End(TokenCount < _maxNewTokens ? FinishReason.Stop : FinishReason.Length);

    /// <summary>Ends the sample for <paramref name="reason"/>; returns the text still held back.</summary>
    public string End(FinishReason reason)
    {
        if (Finished)
            return "";
        var tail = _stops.Append(_decoder.Flush());
        Finish = _stops.Stopped ? FinishReason.Stop : reason;
        return Release(tail + _stops.Flush());
    }

    string Release(string text)
    {
        _text.Append(text);
        return text;
    }
}
