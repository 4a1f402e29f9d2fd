using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>Request builders and response readers shared by the API tests.</summary>
public static class Http
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static ByteArrayContent Bytes(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    /// <summary>The <c>data:</c> payloads of an SSE body, with the event name of each (null for plain data events).</summary>
    public static List<(string? Event, string Data)> ParseEvents(string body)
    {
        var events = new List<(string?, string)>();
        foreach (var block in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null;
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                    name = line["event: ".Length..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                    events.Add((name, line["data: ".Length..]));
            }
        }
        return events;
    }
}
