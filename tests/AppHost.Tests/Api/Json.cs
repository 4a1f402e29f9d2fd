using System.Text;
using System.Text.Json;

namespace GptjAspire.AppHost.Tests.Api;

/// <summary>JSON request bodies and response reading for the public API.</summary>
public static class Json
{
    public static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    /// <summary>Per choice index, text and finish reason of a non-streamed completion.</summary>
    public static Dictionary<int, (string Text, string? Finish)> Choices(JsonElement completion) =>
        completion.GetProperty("choices").EnumerateArray().ToDictionary(
            c => c.GetProperty("index").GetInt32(),
            c => (c.GetProperty("text").GetString()!, c.GetProperty("finish_reason").GetString()));
}
