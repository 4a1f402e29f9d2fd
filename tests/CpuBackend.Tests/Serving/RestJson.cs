using System.Text;
using System.Text.Json;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>JSON bodies to send to the REST routes, and the JSON they answer (checked to be sent as JSON).</summary>
internal static class RestJson
{
    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }
}
