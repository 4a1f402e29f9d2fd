using System.Diagnostics;
using System.Text.Json;
using GptjAspire.CpuBackend.Tests.DemoModel;
using GptjAspire.Tests.Grpcio;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>Interop: Debian's python3-grpcio (tests/Grpcio/kserve_client.py) calls CpuBackend's KServe server.</summary>
public sealed class PythonGrpcClientTests
{
    // kserve_client.py's long request: 16 samples of up to 500 tokens on the demo model.
    private const int LongSamples = 16;
    private const int LongMaxNewTokens = 500;

    [Fact]
    public async Task Standard_grpc_client_gets_the_same_tokens_from_ModelInfer_plain_gzip_or_deflate_and_ModelStreamInfer()
    {
        await using var backend = await BackendHost.StartAsync();
        var expected = (await backend.Client.InferAsync(Requests.Generate([5, 6, 7], 6, excludeInput: true))).GetOutput<int>(C.OutputIds).Data;

        var root = await RunClientAsync(backend, "generate");

        Assert.True(root.GetProperty("live").GetBoolean());
        Assert.True(root.GetProperty("model_ready").GetBoolean());
        Assert.True(root.GetProperty("decoupled").GetBoolean());
        Assert.Equal("py-unary", root.GetProperty("unary").GetProperty("id").GetString());
        Assert.Equal([1, 1, 6], Ints(root.GetProperty("unary").GetProperty("shape")));
        Assert.Equal(expected, Ints(root.GetProperty("unary").GetProperty("ids")));
        Assert.Equal(expected, Ints(root.GetProperty("stream").GetProperty("ids")));
        foreach (var compression in new[] { "gzip", "deflate" })
        {
            Assert.Equal("py-" + compression, root.GetProperty(compression).GetProperty("id").GetString());
            Assert.Equal(expected, Ints(root.GetProperty(compression).GetProperty("ids")));
        }
        var finals = root.GetProperty("stream").GetProperty("finals").EnumerateArray().Select(f => f.GetBoolean()).ToArray();
        Assert.Equal([false, false, false, false, false, true], finals);
        Assert.Equal("INVALID_ARGUMENT", root.GetProperty("bad").GetProperty("code").GetString());
        Assert.Contains("'input_ids'", root.GetProperty("bad").GetProperty("details").GetString());
        var statistics = root.GetProperty("statistics"); // this test's own call, grpcio's unary, gzip, deflate and streamed ones, and the refused one
        Assert.Equal("gptj", statistics.GetProperty("name").GetString());
        Assert.Equal((5, 1, 5), (statistics.GetProperty("success").GetInt32(), statistics.GetProperty("fail").GetInt32(), statistics.GetProperty("inference_count").GetInt32()));
    }

    [Fact]
    public async Task Deadline_of_a_grpcio_call_ends_the_generation_in_the_backend()
    {
        await using var backend = await BackendHost.StartAsync(modelPath: DemoCheckpoint.Directory);
        using var counts = new GenerationCounter(backend);
        using var spans = new GenerationSpans();

        var client = RunClientAsync(backend, "deadline");
        // The loop is held after a few steps until the deadline has passed, so the request cannot finish first on a fast machine.
        var held = counts.HoldAfter(tokens: 4 * LongSamples);
        if (await Task.WhenAny(client, held) == client)
        {
            Assert.Fail($"the client ended before the backend generated its first tokens: {await client}");
        }
        var result = await client;
        counts.Release();

        Assert.Equal("DEADLINE_EXCEEDED", result.GetProperty("code").GetString());
        AssertCancelledEarly(await spans.EndedAsync("py-deadline"));
    }

    [Fact]
    public async Task Grpcio_cancelling_mid_stream_ends_the_generation_in_the_backend()
    {
        await using var backend = await BackendHost.StartAsync(modelPath: DemoCheckpoint.Directory);
        using var spans = new GenerationSpans();

        var result = await RunClientAsync(backend, "cancel");

        Assert.Equal("CANCELLED", result.GetProperty("code").GetString());
        Assert.Equal(3, result.GetProperty("received").GetInt32());
        AssertCancelledEarly(await spans.EndedAsync("py-cancel"));
    }

    [Fact]
    public async Task Vietnamese_status_message_and_binary_header_cross_to_and_from_grpcio()
    {
        await using var backend = await BackendHost.StartAsync();

        var root = await RunClientAsync(backend, "errors");

        // grpc-message is percent-encoded UTF-8 on the wire; grpcio decodes what Grpc.AspNetCore encoded.
        Assert.Equal("NOT_FOUND", root.GetProperty("not_found").GetProperty("code").GetString());
        Assert.Contains("'mô-hình-tiếng-việt'", root.GetProperty("not_found").GetProperty("details").GetString());
        Assert.True(root.GetProperty("bin_header_live").GetBoolean());
    }

    [Fact]
    public async Task Messages_up_to_the_64_MiB_limit_are_read_and_larger_ones_refused()
    {
        await using var backend = await BackendHost.StartAsync();

        var root = await RunClientAsync(backend, "large");

        // 8 MB, twice gRPC's default limit: read whole and judged on its content (far longer than the context).
        var within = root.GetProperty("within");
        Assert.True(within.GetProperty("bytes").GetInt32() > 8_000_000);
        Assert.Equal("INVALID_ARGUMENT", within.GetProperty("code").GetString());
        Assert.Contains("Prompt of 2000000 tokens", within.GetProperty("details").GetString());
        var over = root.GetProperty("over");
        Assert.True(over.GetProperty("bytes").GetInt32() > TritonInferenceClient.MaxMessageBytes);
        Assert.Equal("RESOURCE_EXHAUSTED", over.GetProperty("code").GetString());
    }

    /// <summary>The backend saw the long request cancelled (the server's call token fired) before it generated everything.</summary>
    private static void AssertCancelledEarly(Activity span)
    {
        Assert.Contains(span.Events, e => e.Name == "cancelled");
        Assert.True((int)span.GetTagItem("gen_ai.usage.output_tokens")! < LongSamples * LongMaxNewTokens);
    }

    private static async Task<JsonElement> RunClientAsync(BackendHost backend, string scenario)
    {
        await using var grpcio = await GrpcioPeer.CreateAsync();
        return await grpcio.RunClientAsync("kserve_client.py", new Uri(backend.Address).Authority, scenario);
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();
}
