namespace GptjAspire.Gateway.Errors;

/// <summary>OpenAI's error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public sealed record ErrorResponse(ErrorBody Error);

/// <summary>The inside of <see cref="ErrorResponse"/>.</summary>
public sealed record ErrorBody(string Message, string Type, string? Param, string? Code);
