using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>Sends bytes no HTTP client library would send (malformed framing, oversized lines) and reads back what the server wrote before closing.</summary>
public static class RawHttp
{
    /// <summary>A parsed HTTP/1.1 response: status, headers (lower-case names) and the body, de-chunked.</summary>
    public sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
    {
        public JsonElement Error()
        {
            Assert.True(Headers.TryGetValue("content-type", out var type) && type.StartsWith("application/json", StringComparison.Ordinal),
                $"status {Status}: expected a JSON body, got Content-Type '{type}' and body '{Body}'");
            using var document = JsonDocument.Parse(Body);
            return document.RootElement.GetProperty("error").Clone();
        }
    }

    /// <summary>Writes <paramref name="request"/> as is and reads until the server closes the connection (requests should ask for <c>Connection: close</c>).</summary>
    public static async Task<Response> SendAsync(Uri server, byte[] request) => Parse(await ExchangeAsync(server, request));

    /// <summary>Writes <paramref name="request"/> as is and returns every byte the server wrote before it closed the connection.</summary>
    public static async Task<byte[]> ExchangeAsync(Uri server, byte[] request)
    {
        using var client = new TcpClient();
        // A bound on a hang, not a timing assertion: the server answers malformed requests at once.
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(server.Host, server.Port, cancel.Token);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(request, cancel.Token);
        }
        catch (IOException)
        {
            // The server may answer and close before reading everything sent (a request line it already refused).
        }
        var received = new MemoryStream();
        try
        {
            await stream.CopyToAsync(received, cancel.Token);
        }
        catch (IOException)
        {
            // A reset after the response (the server closed with unread request bytes) still leaves the response read.
        }
        return received.ToArray();
    }

    public static Task<Response> SendAsync(Uri server, string head, byte[]? body = null) =>
        SendAsync(server, [.. Encoding.Latin1.GetBytes(head), .. body ?? []]);

    static Response Parse(byte[] bytes)
    {
        var headEnd = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(headEnd > 0, $"no complete response head in '{Encoding.Latin1.GetString(bytes)}'");
        var lines = Encoding.Latin1.GetString(bytes, 0, headEnd).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(line => line.Split(':', 2))
            .ToDictionary(pair => pair[0].Trim().ToLowerInvariant(), pair => pair[1].Trim());
        var body = bytes.AsSpan(headEnd + 4);
        return new Response(status, headers, Encoding.UTF8.GetString(
            headers.GetValueOrDefault("transfer-encoding") == "chunked" ? Dechunk(body) : body));
    }

    static byte[] Dechunk(ReadOnlySpan<byte> chunked)
    {
        var body = new MemoryStream();
        while (true)
        {
            var lineEnd = chunked.IndexOf("\r\n"u8);
            var size = Convert.ToInt32(Encoding.Latin1.GetString(chunked[..lineEnd]), 16);
            if (size == 0)
                return body.ToArray();
            body.Write(chunked.Slice(lineEnd + 2, size));
            chunked = chunked[(lineEnd + 2 + size + 2)..];
        }
    }
}
