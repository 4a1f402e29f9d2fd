using System.Net.Sockets;
using System.Text;
using GptjAspire.Gateway.Admission;
using GptjAspire.Gptj.V1;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>A client that opens a long stream and reads it slowly, or not at all, holds only its own connection: not the
/// admission's slots, which the next requests need, and not for longer than <c>Gateway:RequestTimeout</c>.</summary>
public sealed class SlowReaderTests
{
    // Bounds on the waits so that a regression fails the test instead of hanging it; not speed assertions.
    static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    const int Deltas = 8000;

    // About 32 MB of text: more than the sockets between the Gateway and a client that reads nothing can hold (loopback
    // send buffers grow to a few MB).
    static IEnumerable<GenerateStreamResponse> LongStream(GenerateRequest _)
    {
        var text = new string('a', 4000);
        for (var i = 0; i < Deltas; i++)
            yield return new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = text } };
        var summary = new GenerateSummary { Model = "gptj", Usage = new Usage { PromptTokens = 1, CompletionTokens = Deltas } };
        summary.Completions.Add(new Completion { Index = 0, FinishReason = FinishReason.Length, CompletionTokens = Deltas });
        yield return new GenerateStreamResponse { Summary = summary };
    }

    [Fact]
    public async Task A_client_that_stops_reading_gives_back_its_slots_once_the_generation_has_arrived()
    {
        // The slot was held until the client had read everything: one such client kept the Gateway refusing others.
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Stream = LongStream;
        var queue = host.Services.GetRequiredService<AdmissionQueue>();

        using var client = await OpenStreamAsync(host);
        Assert.StartsWith("HTTP/1.1 200", await ReadHeadAsync(client.GetStream())); // admitted and streaming; nothing more is read
        using var guard = new CancellationTokenSource(Guard);
        while (queue.Running > 0)
            await Task.Delay(20, guard.Token);

        Assert.Equal(0, queue.Waiting);
        using var next = await host.Client.PostAsync("/v1/completions", Http.Json("""{"prompt": "a", "max_tokens": 2}"""));
        Assert.Equal(System.Net.HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task A_stream_the_client_does_not_read_is_cut_at_the_request_timeout()
    {
        // Kestrel's minimum response rate never closed such a connection: it stayed open as long as the client kept it.
        await using var host = await GatewayHost.StartAsync(new() { ["Gateway:RequestTimeout"] = "00:00:02" });
        host.Preprocessor.Stream = LongStream;

        using var client = await OpenStreamAsync(host);
        await Task.Delay(TimeSpan.FromSeconds(4));
        var received = await ReadToEndAsync(client.GetStream());

        Assert.StartsWith("HTTP/1.1 200", received);
        Assert.DoesNotContain("data: [DONE]", received);
    }

    static async Task<TcpClient> OpenStreamAsync(GatewayHost host)
    {
        var client = new TcpClient { ReceiveBufferSize = 4096 };
        var address = host.Client.BaseAddress!;
        await client.ConnectAsync(address.Host, address.Port);
        var body = """{"prompt": "a", "max_tokens": 500, "stream": true}""";
        var head = $"POST /v1/completions HTTP/1.1\r\nHost: {address.Authority}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n";
        await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(head + body));
        return client;
    }

    static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        using var guard = new CancellationTokenSource(Guard);
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(one, guard.Token) == 1)
            head.Append((char)one[0]);
        return head.ToString();
    }

    static async Task<string> ReadToEndAsync(NetworkStream stream)
    {
        using var guard = new CancellationTokenSource(Guard);
        var received = new MemoryStream();
        var buffer = new byte[65536];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, guard.Token)) > 0)
                received.Write(buffer, 0, read);
        }
        catch (IOException)
        {
            // The connection was reset: what arrived before is the answer.
        }
        return Encoding.UTF8.GetString(received.ToArray());
    }
}
