
namespace GptjAspire.Tokenizer;

/// <summary>Turns a stream of token ids into text, emitting only complete UTF-8 characters.</summary>
/// <remarks>
/// Byte-level BPE splits multi-byte characters (most Vietnamese letters are 2–3 bytes) across tokens. Bytes that
/// could still become a valid character wait for the next token; everything else is decoded at once, with the same
/// U+FFFD substitution as <see cref="BpeTokenizer.Decode"/>, so the concatenated output always equals <c>Decode</c>
/// of the whole sequence. Not thread-safe: one per stream.
/// </remarks>
public sealed class IncrementalDecoder
{
    private readonly BpeTokenizer tokenizer;
    private readonly bool skipSpecialTokens;
    private byte[] pending = new byte[16];
    private int pendingLength;

    internal IncrementalDecoder(BpeTokenizer tokenizer, bool skipSpecialTokens)
    {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Adds one token; returns the text it completes (possibly empty).</summary>
    public string Append(int id)
    {
        var bytes = tokenizer.BytesOf(id, skipSpecialTokens);
        if (bytes.IsEmpty)
        {
            return string.Empty;
        }
        if (pendingLength + bytes.Length > pending.Length)
        {
            Array.Resize(ref pending, Math.Max(pending.Length * 2, pendingLength + bytes.Length));
        }
        bytes.CopyTo(pending.AsSpan(pendingLength));
        pendingLength += bytes.Length;

        var ready = pendingLength - IncompleteTailLength(pending.AsSpan(0, pendingLength));
        if (ready == 0)
        {
            return string.Empty;
        }
        var text = BpeTokenizer.DecodeUtf8(pending.AsSpan(0, ready));
        pending.AsSpan(ready, pendingLength - ready).CopyTo(pending);
        pendingLength -= ready;
        return text;
    }

    /// <summary>Ends the stream: returns whatever is left (an unfinished character becomes U+FFFD, as in <c>Decode</c>).</summary>
    public string Flush()
    {
        var text = BpeTokenizer.DecodeUtf8(pending.AsSpan(0, pendingLength));
        pendingLength = 0;
        return text;
    }

    /// <summary>Length of a trailing sequence that is a proper prefix of a well-formed UTF-8 character (0–3 bytes).</summary>
    /// <remarks>
    /// Such a tail starts with a lead byte; a lead byte can never continue an earlier sequence, so decoding the bytes
    /// before it now and the tail later gives exactly the whole-buffer decoding (Unicode "maximal subpart" rule).
    /// </remarks>
    private static int IncompleteTailLength(ReadOnlySpan<byte> bytes)
    {
        for (var back = 1; back <= 3 && back <= bytes.Length; back++)
        {
            var b = bytes[^back];
            if (b is >= 0x80 and <= 0xBF)
            {
                continue;
            }
            var needed = b switch
            {
                >= 0xC2 and <= 0xDF => 2,
                >= 0xE0 and <= 0xEF => 3,
                >= 0xF0 and <= 0xF4 => 4,
                _ => 0,
            };
            if (needed <= back)
            {
                return 0;
            }
            // The second byte's range depends on the lead (no overlongs, surrogates or code points past U+10FFFF).
            if (back >= 2)
            {
                var second = bytes[^(back - 1)];
                var (low, high) = b switch
                {
                    0xE0 => (0xA0, 0xBF),
                    0xED => (0x80, 0x9F),
                    0xF0 => (0x90, 0xBF),
                    0xF4 => (0x80, 0x8F),
                    _ => (0x80, 0xBF),
                };
                if (second < low || second > high)
                {
                    return 0;
                }
            }
            return back;
        }
        return 0;
    }
}
