namespace GptjAspire.Gateway.Predict;

/// <summary>The original service's response: each text is the prompt followed by one sampled continuation.</summary>
public sealed record PredictResponse(IReadOnlyList<string> GeneratedTexts);
