namespace GptjAspire.Tokenizer;

/// <summary>A token matched in the raw text before pre-tokenization (HF <c>AddedToken</c>), such as <c>&lt;|endoftext|&gt;</c>.</summary>
/// <param name="Content">the literal text matched</param>
/// <param name="Id">its token id</param>
/// <param name="Special">skipped by <c>Decode(..., skipSpecialTokens: true)</c></param>
/// <param name="SingleWord">only matched when not touching a word character on either side</param>
/// <param name="LeftStrip">also swallows the whitespace before it</param>
/// <param name="RightStrip">also swallows the whitespace after it</param>
/// <param name="Normalized">matched against the normalized text (second pass) rather than the raw text</param>
internal sealed record AddedToken(string Content, int Id, bool Special, bool SingleWord, bool LeftStrip, bool RightStrip, bool Normalized);
