using System.Text.Json;
using Google.Rpc;
using GptjAspire.Preprocessor.Errors;
using GptjAspire.Preprocessor.Tests.Service;
using Microsoft.Extensions.DependencyInjection;
using GptjAspire.Tests.Grpcio;

namespace GptjAspire.Preprocessor.Tests.Interop;

/// <summary>
/// Interop in both directions around the Preprocessor: a grpcio client (tests/Grpcio/preprocessor_client.py) calls
/// gptj.v1.Preprocessor, whose backend is a grpcio KServe server (kserve_server.py) that "generates" the prompt's
/// tokens over and over, called through Grpc.Net.Client. Nothing between the two Python processes is scripted.
/// </summary>
public sealed class GrpcioInteropTests(GrpcioKServeServer backend) : IClassFixture<GrpcioKServeServer>, IAsyncLifetime
{
    // preprocessor_client.py sends it decomposed (NFD); the Preprocessor works on NFC.
    private const string Prompt = "Chào Việt";

    private PreprocessorHost _preprocessor = null!;
    private GrpcioPeer _client = null!;

    public async Task InitializeAsync()
    {
        _preprocessor = await PreprocessorHost.StartAsync(backend.Address, services =>
        {
            services.AddSingleton<CallWatch>();
            services.AddGrpc(options => options.Interceptors.Add<CallWatch>());
        });
        _client = await GrpcioPeer.CreateAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _preprocessor.DisposeAsync();
    }

    [Fact]
    public async Task Unary_gzip_compressed_and_streamed_generation_give_the_same_Vietnamese_text()
    {
        var root = await RunAsync("generate");

        // The backend repeats the prompt's tokens: twice as many new tokens as the prompt has is the prompt twice.
        Assert.Equal(Prompt.Normalize(System.Text.NormalizationForm.FormC), root.GetProperty("normalized").GetString());
        var unary = root.GetProperty("unary");
        Assert.Equal("py-generate", unary.GetProperty("request_id").GetString());
        Assert.Equal("gptj", unary.GetProperty("model").GetString());
        Assert.Equal(root.GetProperty("prompt_tokens").GetInt32(), unary.GetProperty("prompt_tokens").GetInt32());
        var completions = unary.GetProperty("completions").EnumerateArray().ToList();
        Assert.Equal([0, 1], completions.Select(c => c.GetProperty("index").GetInt32()));
        Assert.All(completions, c =>
        {
            Assert.Equal(Prompt + Prompt, c.GetProperty("text").GetString());
            Assert.Equal("FINISH_REASON_LENGTH", c.GetProperty("finish").GetString());
        });

        var gzip = root.GetProperty("gzip"); // the request gzip-compressed, as grpcio's compression=Gzip sends it
        Assert.Equal("py-gzip", gzip.GetProperty("request_id").GetString());
        Assert.Equal(Prompt + Prompt, gzip.GetProperty("completions")[0].GetProperty("text").GetString());

        var stream = root.GetProperty("stream");
        var deltas = stream.GetProperty("deltas").EnumerateArray().Select(d => d.GetProperty("text").GetString()!).ToList();
        Assert.True(deltas.Count > 1, "the stream came in one piece");
        Assert.Equal(Prompt + Prompt, string.Concat(deltas));
        Assert.Equal("py-stream", stream.GetProperty("request_id").GetString());
        Assert.Equal("FINISH_REASON_LENGTH", stream.GetProperty("completions")[0].GetProperty("finish").GetString());
    }

    [Fact]
    public async Task Deadline_ends_the_call_in_the_Preprocessor_and_its_backend_call()
    {
        var root = await RunAsync("deadline");

        foreach (var (call, requestId) in new[] { ("stream", "endless-stream-deadline"), ("unary", "endless-unary-deadline") })
        {
            Assert.Equal("DEADLINE_EXCEEDED", root.GetProperty(call).GetProperty("code").GetString());
            // The server ended the call at its deadline (its own timer or its backend call's, whichever fired first)...
            var end = await _preprocessor.Services.GetRequiredService<CallWatch>().EndedAsync(requestId);
            Assert.True(end.AtDeadline, $"{requestId} ended on the server without its deadline firing: {end}");
            // ...and its call to the backend carried the deadline: the grpcio backend saw that call end too.
            await backend.WaitForServerToRecordAsync("cancelled:" + requestId);
        }
    }

    [Fact]
    public async Task Cancelling_mid_stream_cancels_the_Preprocessor_call_and_its_backend_call()
    {
        var root = await RunAsync("cancel");

        Assert.Equal("CANCELLED", root.GetProperty("code").GetString());
        Assert.Equal(3, root.GetProperty("received").GetInt32());
        Assert.True((await _preprocessor.Services.GetRequiredService<CallWatch>().EndedAsync("endless-cancel")).TokenFired);
        await backend.WaitForServerToRecordAsync("cancelled:endless-cancel");
    }

    [Fact]
    public async Task Status_codes_Vietnamese_messages_and_binary_metadata_cross_both_hops()
    {
        var root = await RunAsync("errors");

        // grpcio backend → Grpc.Net.Client: the backend's Vietnamese grpc-message (percent-encoded UTF-8) is read and
        // mapped by meaning; its text stays in the Preprocessor's log. Grpc.AspNetCore → grpcio client: the status and its
        // google.rpc.Status details as grpcio receives them.
        var relayed = root.GetProperty("backend");
        Assert.Equal(("RESOURCE_EXHAUSTED", BackendFailures.OverloadedMessage), (relayed.GetProperty("code").GetString(), relayed.GetProperty("details").GetString()));
        var relayedDetails = StatusDetails(relayed);
        Assert.Equal("BACKEND_OVERLOADED", relayedDetails.GetDetail<ErrorInfo>()?.Reason);
        Assert.NotNull(relayedDetails.GetDetail<RetryInfo>());
        var invalid = root.GetProperty("invalid");
        Assert.Equal("INVALID_ARGUMENT", invalid.GetProperty("code").GetString());
        Assert.Equal("max_new_tokens", Assert.Single(StatusDetails(invalid).GetDetail<BadRequest>()!.FieldViolations).Field);
        Assert.True(root.GetProperty("bin_trailer_matches").GetBoolean());
    }

    [Fact]
    public async Task Messages_of_several_megabytes_travel_both_ways_up_to_the_limit()
    {
        var root = await RunAsync("large");

        Assert.True(root.GetProperty("text_bytes").GetInt32() > 3_000_000);
        Assert.True(root.GetProperty("ids_bytes").GetInt32() > 4 * 1024 * 1024, "the Detokenize request should exceed gRPC's 4 MiB default");
        Assert.True(root.GetProperty("tokenize_response_bytes").GetInt32() > 4 * 1024 * 1024);
        Assert.True(root.GetProperty("round_trip").GetBoolean());
        Assert.Equal("RESOURCE_EXHAUSTED", root.GetProperty("over").GetProperty("code").GetString());
    }

    private static Google.Rpc.Status StatusDetails(JsonElement status) =>
        Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(status.GetProperty("status_details_base64").GetString()!));

    private Task<JsonElement> RunAsync(string scenario) =>
        _client.RunClientAsync("preprocessor_client.py", new Uri(_preprocessor.Address).Authority, scenario);
}
