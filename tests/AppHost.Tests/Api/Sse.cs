using System.Text;
using System.Text.Json;

namespace GptjAspire.AppHost.Tests.Api;

/// <summary>Reads a Server-Sent Events body byte-exactly, so each event's bytes can be checked as UTF-8 on their own.</summary>
public static class Sse
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>One event: its name (null for plain data) and its data; throws if the event's bytes are not valid UTF-8.</summary>
    public static List<(string? Event, string Data)> Events(byte[] body)
    {
        var events = new List<(string?, string)>();
        var start = 0;
        while (start < body.Length)
        {
            var end = IndexOf(body, "\n\n"u8, start);
            if (end < 0)
                end = body.Length;
            var text = StrictUtf8.GetString(body, start, end - start);
            string? name = null;
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                    name = line["event: ".Length..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                    events.Add((name, line["data: ".Length..]));
            }
            start = end + 2;
        }
        return events;
    }

    /// <summary>Per choice index, the concatenated text and the finish reason, from the chunks before <c>[DONE]</c>.</summary>
    public static Dictionary<int, (string Text, string? Finish)> Choices(IEnumerable<(string? Event, string Data)> events)
    {
        var choices = new Dictionary<int, (string Text, string? Finish)>();
        foreach (var (_, data) in events.Where(e => e.Event is null && e.Data != "[DONE]"))
        {
            using var chunk = JsonDocument.Parse(data);
            foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
            {
                var index = choice.GetProperty("index").GetInt32();
                var (text, finish) = choices.GetValueOrDefault(index, ("", null));
                var reason = choice.GetProperty("finish_reason");
                choices[index] = (text + choice.GetProperty("text").GetString(), reason.ValueKind == JsonValueKind.String ? reason.GetString() : finish);
            }
        }
        return choices;
    }

    static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle, int start)
    {
        var at = haystack.AsSpan(start).IndexOf(needle);
        return at < 0 ? -1 : start + at;
    }
}
