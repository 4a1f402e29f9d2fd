namespace GptjAspire.Preprocessor.Text;

/// <summary>Cuts a growing text at the first stop sequence, releasing only text that can no longer turn out to be part of one.</summary>
/// <remarks>
/// OpenAI's <c>stop</c> semantics: the completion ends where a stop sequence begins, and the stop
/// sequence itself is not returned. While streaming, a tail that is a prefix of some stop sequence
/// is held back until the next text decides it.
/// </remarks>
public sealed class StopSequenceFilter(IReadOnlyList<string> stops)
{
    string _pending = "";

    /// <summary>True once a stop sequence was seen; later text is discarded.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds decoded text; returns the part that is now final.</summary>
    public string Append(string text)
    {
        if (Stopped || text.Length == 0)
            return "";
        if (stops.Count == 0)
            return text;

        _pending += text;
        var cut = FirstStop(_pending);
        if (cut >= 0)
        {
            Stopped = true;
            var released = _pending[..cut];
            _pending = "";
            return released;
        }
        var hold = LongestStopPrefixSuffix(_pending);
        var ready = _pending[..^hold];
        _pending = _pending[^hold..];
        return ready;
    }

    /// <summary>The text held back, released when the completion ends without a stop sequence.</summary>
    public string Flush()
    {
        var rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }

    int FirstStop(string text)
    {
        var first = -1;
        foreach (var stop in stops)
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
                first = at;
        }
        return first;
    }

    // Length of the longest end of `text` that some stop sequence starts with (shorter than the stop itself,
    // since a whole stop would have been found by FirstStop).
    int LongestStopPrefixSuffix(string text)
    {
        var longest = 0;
        foreach (var stop in stops)
        {
            for (var length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
            {
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }
}
