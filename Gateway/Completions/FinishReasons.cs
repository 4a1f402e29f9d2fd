using GptjAspire.Gptj.V1;

namespace GptjAspire.Gateway.Completions;

/// <summary>OpenAI's <c>finish_reason</c> strings for the Preprocessor's finish reasons.</summary>
public static class FinishReasons
{
    public static string? ToOpenAi(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => null,
    };
}
