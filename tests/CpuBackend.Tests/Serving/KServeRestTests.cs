using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using GptjAspire.TritonClient.Tensors;
using static GptjAspire.CpuBackend.Tests.Serving.RestJson;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>The KServe v2 HTTP/REST protocol on CpuBackend, as Triton answers it on its HTTP port, against the gRPC answers.</summary>
public sealed class KServeRestTests : RestBackendTest
{
    private const string Infer = "/v2/models/gptj/infer";

    [Fact]
    public async Task Health_metadata_and_configuration_answer_as_on_TritonsHttp_port()
    {
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/v2/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/v2/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/v2/models/gptj/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/v2/models/gptj/versions/1/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.GetAsync("/v2/models/llama/ready")).StatusCode);

        var server = await JsonAsync(await Http.GetAsync("/v2"));
        Assert.Contains("model_configuration", server.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));

        var metadata = await JsonAsync(await Http.GetAsync("/v2/models/gptj"));
        Assert.Equal(["1"], metadata.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        var inputIds = metadata.GetProperty("inputs").EnumerateArray().Single(i => i.GetProperty("name").GetString() == C.InputIds);
        Assert.Equal("INT32", inputIds.GetProperty("datatype").GetString());
        Assert.Equal([-1L, -1L], inputIds.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())); // numbers, as Triton writes them

        var config = await JsonAsync(await Http.GetAsync("/v2/models/gptj/config"));
        Assert.Equal(8, config.GetProperty("max_batch_size").GetInt32());
        Assert.True(config.GetProperty("model_transaction_policy").GetProperty("decoupled").GetBoolean());
        var contextLength = Backend.Model.Loaded!.Config.ContextLength.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(contextLength, config.GetProperty("parameters").GetProperty(C.ContextLengthParameter).GetProperty("string_value").GetString());
        Assert.All(config.GetProperty("input").EnumerateArray(), input => Assert.All(input.GetProperty("dims").EnumerateArray(), d => Assert.Equal(JsonValueKind.Number, d.ValueKind)));

        var index = await JsonAsync(await Http.PostAsync("/v2/repository/index", Json("""{"ready": true}""")));
        var served = Assert.Single(index.EnumerateArray());
        Assert.Equal(("gptj", "1", "READY"), (served.GetProperty("name").GetString(), served.GetProperty("version").GetString(), served.GetProperty("state").GetString()));
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.PostAsync("/v2/repository/index", Json("""{"ready": "yes"}"""))).StatusCode);

        using var unknown = await Http.GetAsync("/v2/models/llama");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("'llama' is not found", (await JsonAsync(unknown)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Json_inference_returns_the_tokens_that_grpc_ModelInfer_returns()
    {
        int[] prompt = [5, 9, 2, 7];
        var viaGrpc = (await Backend.Client.InferAsync(Requests.Generate(prompt, 6))).GetOutput<int>(C.OutputIds).Data;

        using var response = await Http.PostAsync(Infer, Json($$"""
            {"id": "rest-1", "inputs": [
              {"name": "input_ids", "datatype": "INT32", "shape": [1, 4], "data": [[5, 9, 2, 7]]},
              {"name": "input_lengths", "datatype": "INT32", "shape": [1, 1], "data": [4]},
              {"name": "request_output_len", "datatype": "INT32", "shape": [1, 1], "data": [6]},
              {"name": "end_id", "datatype": "INT32", "shape": [1, 1], "data": [-1]},
              {"name": "runtime_top_k", "datatype": "INT32", "shape": [1, 1], "data": [1]}]}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal(("gptj", "1", "rest-1"), (body.GetProperty("model_name").GetString(), body.GetProperty("model_version").GetString(), body.GetProperty("id").GetString()));
        var outputIds = body.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("name").GetString() == C.OutputIds);
        Assert.Equal([1L, 1L, 10L], outputIds.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal(viaGrpc, outputIds.GetProperty("data").EnumerateArray().Select(v => v.GetInt32()));
    }

    [Fact]
    public async Task Binary_tensor_data_goes_both_ways_as_tritonclient_sends_and_asks_for_it()
    {
        int[] prompt = [3, 1, 4, 1, 5];
        var viaGrpc = (await Backend.Client.InferAsync(Requests.Generate(prompt, 4))).GetOutput<int>(C.OutputIds).Data;
        var header = Encoding.UTF8.GetBytes("""
            {"inputs": [
              {"name": "input_ids", "datatype": "INT32", "shape": [1, 5], "parameters": {"binary_data_size": 20}},
              {"name": "input_lengths", "datatype": "INT32", "shape": [1, 1], "parameters": {"binary_data_size": 4}},
              {"name": "request_output_len", "datatype": "INT32", "shape": [1, 1], "parameters": {"binary_data_size": 4}},
              {"name": "end_id", "datatype": "INT32", "shape": [1, 1], "data": [-1]},
              {"name": "runtime_top_k", "datatype": "INT32", "shape": [1, 1], "parameters": {"binary_data_size": 4}}],
             "outputs": [{"name": "output_ids", "parameters": {"binary_data": true}}, {"name": "sequence_length", "parameters": {"binary_data": false}}]}
            """);
        var body = header.Concat(Raw(prompt)).Concat(Raw([5])).Concat(Raw([4])).Concat(Raw([1])).ToArray();
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));

        using var response = await Http.PostAsync(Infer, content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var jsonLength = int.Parse(Assert.Single(response.Headers.GetValues("Inference-Header-Content-Length")), System.Globalization.CultureInfo.InvariantCulture);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        using var json = JsonDocument.Parse(bytes.AsMemory(0, jsonLength));
        var outputs = json.RootElement.GetProperty("outputs").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);
        Assert.Equal(2, outputs.Count);
        Assert.Equal(4 * viaGrpc.Length, outputs[C.OutputIds].GetProperty("parameters").GetProperty("binary_data_size").GetInt32());
        Assert.Equal(viaGrpc, TensorCodec.DecodeRaw<int>(C.OutputIds, bytes.AsSpan(jsonLength)));
        Assert.Equal([viaGrpc.Length], outputs[C.SequenceLength].GetProperty("data").EnumerateArray().Select(v => v.GetInt32()));
    }

    [Theory]
    [InlineData("""{"inputs": [{"name": "input_ids", "datatype": "INT32", "shape": [1, 3], "data": [1, 2, "x"]}]}""", "Input 'input_ids' holds \"x\", which is not a valid INT32 element.")]
    [InlineData("""{"inputs": [{"name": "input_ids", "datatype": "INT32", "shape": [1, 3], "data": [1, 2, 3e99]}]}""", "Input 'input_ids' holds 3e99, which is not a valid INT32 element.")]
    [InlineData("""{"inputs": [{"name": "input_ids", "datatype": "INT4", "shape": [1], "data": [1]}]}""", "Input 'input_ids' has datatype 'INT4', which KServe v2 does not define.")]
    [InlineData("""{"inputs": [{"name": "input_ids", "datatype": "INT32", "shape": [1, 3], "data": [1, 2]}, {"name": "input_lengths", "datatype": "INT32", "shape": [1, 1], "data": [3]}, {"name": "request_output_len", "datatype": "INT32", "shape": [1, 1], "data": [2]}]}""",
        "Tensor 'input_ids' (INT32, shape [1, 3]) needs 12 bytes; raw contents hold 8.")]
    [InlineData("""{"inputs": [{"name": "input_ids", "datatype": "INT32", "shape": [1, 3], "parameters": {"binary_data_size": 12}}]}""", "Input 'input_ids' declares 12 bytes of binary data, but only 0 are left after the JSON header.")]
    [InlineData("""{"inputs": [{"datatype": "INT32"}]}""", "Each entry of 'inputs' needs a 'name' string.")]
    [InlineData("""[1, 2]""", "The request must be a JSON object.")]
    [InlineData("""{"id": "\ud800", "inputs": []}""", "The string at 'id' escapes an unpaired UTF-16 surrogate; JSON strings must be Unicode text.")]
    [InlineData("""{"inputs": [{"name": "input_ids", "datatype": "BYTES", "shape": [1], "data": ["\udfff"]}]}""", "The string at 'inputs[0].data[0]' escapes an unpaired UTF-16 surrogate")]
    [InlineData("""{"inputs": [""", "The request is not valid JSON:")]
    [InlineData("""{"inputs": [{"name": "input_ids", "datatype": "INT32", "shape": [1, 1], "data": [1]}, {"name": "input_lengths", "datatype": "INT32", "shape": [1, 1], "data": [1]}, {"name": "request_output_len", "datatype": "INT32", "shape": [1, 1], "data": [2]}, {"name": "streaming", "datatype": "BOOL", "shape": [1, 1], "data": [true]}]}""",
        "Input 'streaming' is true, but this call sends one response; use ModelStreamInfer")]
    public async Task A_bad_inference_request_is_400_with_an_error_that_names_the_problem(string body, string error)
    {
        using var response = await Http.PostAsync(Infer, Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith(error, (await JsonAsync(response)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Json_beyond_16_MiB_is_413_pointing_to_binary_data_while_the_same_tensor_as_binary_data_is_read()
    {
        // 17 MiB of JSON digits: parsed, a document of that size would take several times it in memory.
        var count = 9_000_000;
        var json = new StringBuilder("""{"inputs": [{"name": "input_ids", "datatype": "INT32", "shape": [1, 9000000], "data": [""");
        json.Insert(json.Length, "1,", count - 1).Append("1]}]}");
        using var tooLarge = await Http.PostAsync(Infer, Json(json.ToString()));

        var header = Encoding.UTF8.GetBytes($$$"""{"inputs": [{"name": "input_ids", "datatype": "INT32", "shape": [1, {{{count}}}], "parameters": {"binary_data_size": {{{4 * count}}}}}]}""");
        using var binary = new ByteArrayContent([.. header, .. new byte[4 * count]]);
        binary.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var read = await Http.PostAsync(Infer, binary);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.StartsWith("The request's JSON is 18000", (await JsonAsync(tooLarge)).GetProperty("error").GetString());
        // 36 MB of binary data is read whole and reaches the model's own checks.
        Assert.Equal(HttpStatusCode.BadRequest, read.StatusCode);
        Assert.StartsWith("Missing required input 'input_lengths'", (await JsonAsync(read)).GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    public async Task A_compressed_body_returns_the_tokens_of_the_same_body_sent_as_it_is(string encoding)
    {
        var request = Encoding.UTF8.GetBytes("""
            {"inputs": [
              {"name": "input_ids", "datatype": "INT32", "shape": [1, 3], "data": [4, 8, 1]},
              {"name": "input_lengths", "datatype": "INT32", "shape": [1, 1], "data": [3]},
              {"name": "request_output_len", "datatype": "INT32", "shape": [1, 1], "data": [5]},
              {"name": "end_id", "datatype": "INT32", "shape": [1, 1], "data": [-1]},
              {"name": "runtime_top_k", "datatype": "INT32", "shape": [1, 1], "data": [1]}]}
            """);
        using var plain = await Http.PostAsync(Infer, new ByteArrayContent(request));

        using var compressed = await Http.PostAsync(Infer, Compressed(request, encoding));

        Assert.Equal(HttpStatusCode.OK, compressed.StatusCode);
        Assert.Equal((await JsonAsync(plain)).GetProperty("outputs").ToString(), (await JsonAsync(compressed)).GetProperty("outputs").ToString());
    }

    [Fact]
    public async Task An_unknown_encoding_is_415_corrupt_gzip_is_400_and_a_body_that_inflates_past_64_MiB_is_413()
    {
        using var brotli = new ByteArrayContent("{}"u8.ToArray());
        brotli.Headers.ContentEncoding.Add("br");
        using var unknown = await Http.PostAsync(Infer, brotli);
        using var corrupt = new ByteArrayContent("not gzip at all"u8.ToArray());
        corrupt.Headers.ContentEncoding.Add("gzip");
        using var notGzip = await Http.PostAsync(Infer, corrupt);
        // 65 MiB of zeros compress to about 64 KiB: the limit holds on what the body becomes, not on what is sent.
        using var bomb = await Http.PostAsync(Infer, Compressed(new byte[65 * 1024 * 1024], "gzip"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, unknown.StatusCode);
        Assert.Equal("Content-Encoding 'br' is not supported; send the body as it is, or compressed with gzip or deflate.", (await JsonAsync(unknown)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, notGzip.StatusCode);
        Assert.StartsWith("The request body is not valid gzip data", (await JsonAsync(notGzip)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, bomb.StatusCode);
        Assert.Equal("The request body is more than 67108864 bytes once decompressed.", (await JsonAsync(bomb)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_route_triton_has_and_this_server_does_not_and_a_wrong_method_get_tritons_error_body()
    {
        using var trace = await Http.GetAsync("/v2/models/gptj/trace/setting");
        using var sharedMemory = await Http.GetAsync("/v2/systemsharedmemory/status");
        using var wrongMethod = await Http.GetAsync(Infer);

        Assert.Equal(HttpStatusCode.NotFound, trace.StatusCode);
        Assert.StartsWith("'/v2/models/gptj/trace/setting' is not served here", (await JsonAsync(trace)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, sharedMemory.StatusCode);
        Assert.StartsWith("'/v2/systemsharedmemory/status' is not served here", (await JsonAsync(sharedMemory)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal("GET is not allowed on '/v2/models/gptj/infer'.", (await JsonAsync(wrongMethod)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Model_load_and_unload_are_refused_503_as_by_triton_with_model_control_off()
    {
        using var load = await Http.PostAsync("/v2/repository/models/gptj/load", Json("{}"));
        using var unload = await Http.PostAsync("/v2/repository/models/gptj/unload", Json("{}"));

        foreach (var response in new[] { load, unload })
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.StartsWith("explicit model load / unload is not allowed", (await JsonAsync(response)).GetProperty("error").GetString());
        }
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/v2/models/gptj/ready")).StatusCode); // still served
    }

    [Theory]
    [InlineData("/v2/models/llama/infer", """{"inputs": []}""")]
    // The model is named before the body is read: a body that is wrong too still hears that the model is not here.
    [InlineData("/v2/models/llama/infer", "{}")]
    [InlineData("/v2/models/llama/generate", "[1, 2]")]
    [InlineData("/v2/models/llama/generate_stream", "not json")]
    public async Task Inference_on_an_unknown_model_is_404(string route, string body)
    {
        using var response = await Http.PostAsync(route, Json(body));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("'llama' is not found", (await JsonAsync(response)).GetProperty("error").GetString());
    }

    private static ByteArrayContent Compressed(byte[] body, string encoding)
    {
        using var packed = new MemoryStream();
        using (Stream compressor = encoding == "gzip" ? new GZipStream(packed, CompressionLevel.Fastest) : new ZLibStream(packed, CompressionLevel.Fastest))
            compressor.Write(body);
        var content = new ByteArrayContent(packed.ToArray());
        content.Headers.ContentEncoding.Add(encoding);
        return content;
    }

    private static byte[] Raw(int[] values) => TensorCodec.EncodeRaw<int>(values).ToByteArray();
}
