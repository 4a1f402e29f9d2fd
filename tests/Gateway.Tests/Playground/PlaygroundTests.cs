using System.Net;
using System.Text.Json;
using GptjAspire.Gateway.Tests.Api;
using GptjAspire.Gptj.V1;
using Grpc.Core;

namespace GptjAspire.Gateway.Tests.Playground;

/// <summary>The playground page at / in a real browser (chromium), against the Gateway with a scripted Preprocessor.</summary>
public sealed class PlaygroundTests
{
    [Fact]
    public async Task Page_is_served_at_the_root_with_its_files()
    {
        await using var host = await GatewayHost.StartAsync();

        using var page = await host.Client.GetAsync("/");
        using var script = await host.Client.GetAsync("/playground.js");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<html lang=\"vi\">", await page.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    [Fact]
    public async Task Vietnamese_prompt_streams_each_sample_after_the_prompt_with_its_timings()
    {
        await using var host = await GatewayHost.StartAsync();

        var page = await PlaygroundBrowser.RunAsync("stream", host.Client.BaseAddress!);

        Assert.Equal("Xong.", page.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("error").ValueKind);
        var samples = page.GetProperty("samples").EnumerateArray().ToList();
        Assert.Equal([0, 1], samples.Select(s => s.GetProperty("index").GetInt32()));
        foreach (var sample in samples)
        {
            Assert.Equal("Xin chào, tôi là", sample.GetProperty("prompt").GetString());
            Assert.Equal(" Việt Nam", sample.GetProperty("completion").GetString());
            Assert.Equal("Xin chào, tôi là Việt Nam", sample.GetProperty("text").GetString());
            var stats = sample.GetProperty("stats").GetString()!;
            Assert.Matches(@"^Token đầu tiên sau \d+ ms · ([\d.]+|—) token/giây · 2 token · kết thúc: stop$", stats);
        }
        Assert.Equal("Mẫu 2", samples[1].GetProperty("heading").GetString());
        Assert.True(page.GetProperty("generateEnabled").GetBoolean());
        Assert.False(page.GetProperty("stopEnabled").GetBoolean());

        // Nothing from elsewhere (no CDN): the page works offline.
        Assert.Equal([host.Client.BaseAddress!.GetLeftPart(UriPartial.Authority)], page.GetProperty("origins").EnumerateArray().Select(o => o.GetString()));
        var sent = page.GetProperty("sent");
        Assert.Equal("Bearer sk-playground", sent.GetProperty("authorization").GetString());
        var request = Assert.Single(host.Preprocessor.Requests);
        Assert.Equal(("Xin chào, tôi là", 12, 2), (request.Prompt, request.MaxNewTokens, request.N));
        Assert.Equal((0.7f, 40, 0.9f, 42UL), (request.Sampling.Temperature, request.Sampling.TopK, request.Sampling.TopP, request.Sampling.Seed));
        Assert.Equal(["###", "\n\n"], request.Stop);
    }

    [Fact]
    public async Task Stop_aborts_a_long_generation_and_the_upstream_stream_ends()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.HangAfterStream = true;

        var page = await PlaygroundBrowser.RunAsync("stop", host.Client.BaseAddress!);

        // Text had streamed in while the request was still running ...
        var before = page.GetProperty("beforeStop");
        Assert.True(before.GetProperty("stopEnabled").GetBoolean());
        Assert.Equal(" Việt Nam", before.GetProperty("samples")[0].GetProperty("completion").GetString());
        // ... and Stop ended it in the page and, through the Gateway, at the Preprocessor.
        Assert.Equal("net::ERR_ABORTED", page.GetProperty("failure").GetString());
        Assert.Equal("Đã dừng.", page.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("error").ValueKind);
        Assert.True(page.GetProperty("generateEnabled").GetBoolean());
        Assert.False(page.GetProperty("stopEnabled").GetBoolean());
        await host.Preprocessor.StreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Stream_that_breaks_keeps_the_text_so_far_and_shows_the_error_event_message()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Stream = _ => [new GenerateStreamResponse { Delta = new TextDelta { Index = 0, Text = " là thủ đô" } }];
        host.Preprocessor.Failure = new RpcException(new Status(StatusCode.Unavailable, "backend connection lost"));

        var page = await PlaygroundBrowser.RunAsync("broken", host.Client.BaseAddress!);

        Assert.Equal("The model is not available right now; retry later.", page.GetProperty("error").GetString());
        Assert.Equal("Lỗi.", page.GetProperty("status").GetString());
        Assert.Equal("Hà Nội là thủ đô", Assert.Single(page.GetProperty("samples").EnumerateArray()).GetProperty("text").GetString());
        Assert.True(page.GetProperty("generateEnabled").GetBoolean());
    }

    [Fact]
    public async Task Invalid_temperature_shows_the_api_message_and_the_page_switches_to_english()
    {
        await using var host = await GatewayHost.StartAsync();

        var page = await PlaygroundBrowser.RunAsync("invalid", host.Client.BaseAddress!);

        Assert.Equal("'temperature' must be at least 0 and at most 2; got 5.", page.GetProperty("error").GetString());
        Assert.Equal("Lỗi.", page.GetProperty("status").GetString());
        Assert.Empty(page.GetProperty("samples").EnumerateArray());
        Assert.Empty(host.Preprocessor.Requests);
        Assert.Equal(("en", "Temperature", "Generate", "Failed."), (page.GetProperty("lang").GetString(),
            page.GetProperty("englishLabel").GetString(), page.GetProperty("englishButton").GetString(), page.GetProperty("englishStatus").GetString()));
    }
}
