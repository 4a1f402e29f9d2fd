namespace GptjAspire.Tokenizer;

/// <summary>Thrown when text cannot be tokenized because it is malformed (e.g. an unpaired UTF-16 surrogate), naming where.</summary>
public sealed class InvalidTextException : ArgumentException
{
    public InvalidTextException(string message, int position)
        : base($"{message} (at UTF-16 position {position})", "text")
    {
        Position = position;
    }

    /// <summary>Index (in UTF-16 code units) of the first offending character.</summary>
    public int Position { get; }
}
