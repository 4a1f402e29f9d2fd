namespace GptjAspire.Gateway;

/// <summary>The model name this deployment serves: configuration <c>Model:Name</c>, shared with the Preprocessor and the backend.</summary>
public static class ServedModel
{
    public const string DefaultName = "gptj";

    public static string Name(IConfiguration configuration) => configuration["Model:Name"] ?? DefaultName;
}
