using System.Net;
using System.Text.Json;
using GptjAspire.TritonClient.Tensors;
using static GptjAspire.CpuBackend.Tests.Serving.RestJson;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>Triton's generate extension on CpuBackend (<c>generate</c>, <c>generate_stream</c>), against the gRPC answers.</summary>
public sealed class GenerateExtensionTests : RestBackendTest
{
    private const string Generate = "/v2/models/gptj/generate";
    private const string GenerateStream = "/v2/models/gptj/generate_stream";

    [Fact]
    public async Task Generate_maps_keys_to_inputs_and_returns_the_tokens_of_grpc_ModelInfer_with_single_elements_as_values()
    {
        int[] prompt = [5, 9, 2, 7];
        var viaGrpc = (await Backend.Client.InferAsync(Requests.Generate(prompt, 6))).GetOutput<int>(C.OutputIds).Data;

        using var response = await Http.PostAsync(Generate, Json("""
            {"id": "gen-1", "input_ids": [5, 9, 2, 7], "input_lengths": 4, "request_output_len": [6], "end_id": -1, "runtime_top_k": 1}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal(("gen-1", "gptj", "1"), (body.GetProperty("id").GetString(), body.GetProperty("model_name").GetString(), body.GetProperty("model_version").GetString()));
        Assert.Equal(viaGrpc, body.GetProperty(C.OutputIds).EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(viaGrpc.Length, body.GetProperty(C.SequenceLength).GetInt32()); // one element: a value, not an array
        Assert.False(body.TryGetProperty(C.FinalResponseParameter, out _));
    }

    [Fact]
    public async Task Keys_in_parameters_that_name_inputs_are_inputs_and_the_others_are_request_parameters()
    {
        using var flat = await Http.PostAsync(Generate, Json("""{"input_ids": [3, 1, 4], "input_lengths": 3, "request_output_len": 5, "end_id": -1, "runtime_top_k": 1}"""));
        using var nested = await Http.PostAsync(Generate, Json("""
            {"input_ids": [3, 1, 4], "input_lengths": 3, "parameters": {"request_output_len": 5, "end_id": -1, "runtime_top_k": 1, "priority": 1, "note": "x"}, "trace": true}
            """));

        Assert.Equal(HttpStatusCode.OK, nested.StatusCode);
        Assert.Equal(
            (await JsonAsync(flat)).GetProperty(C.OutputIds).EnumerateArray().Select(v => v.GetInt32()),
            (await JsonAsync(nested)).GetProperty(C.OutputIds).EnumerateArray().Select(v => v.GetInt32()));
    }

    [Fact]
    public async Task A_flat_stop_words_list_is_shaped_by_the_models_three_dimensions()
    {
        var greedy = (await Backend.Client.InferAsync(Requests.Generate([5, 6], 8, excludeInput: true))).GetOutput<int>(C.OutputIds).Data;
        var stop = greedy[2];
        var firstStop = Array.IndexOf(greedy, stop);

        // TensorRT-LLM's [1, 2, n] layout, flat: the words' ids, then their end offsets.
        using var response = await Http.PostAsync(Generate, Json($$"""
            {"input_ids": [5, 6], "input_lengths": 2, "request_output_len": 8, "end_id": -1, "runtime_top_k": 1,
             "exclude_input_in_output": true, "stop_words_list": [{{stop}}, 1]}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(greedy[..(firstStop + 1)], (await JsonAsync(response)).GetProperty(C.OutputIds).EnumerateArray().Select(v => v.GetInt32()));
    }

    [Fact]
    public async Task Generate_stream_with_streaming_sends_one_event_per_token_and_the_tokens_of_the_whole_answer()
    {
        var whole = (await Backend.Client.InferAsync(Requests.Generate([5, 9, 2, 7], 6, excludeInput: true))).GetOutput<int>(C.OutputIds).Data;

        using var response = await Http.PostAsync(GenerateStream, Json("""
            {"id": "s-1", "input_ids": [5, 9, 2, 7], "input_lengths": 4, "request_output_len": 6, "end_id": -1, "runtime_top_k": 1, "streaming": true}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await EventsAsync(response);
        Assert.Equal(whole.Length, events.Count);
        Assert.All(events, e => Assert.Equal(("s-1", "gptj"), (e.GetProperty("id").GetString(), e.GetProperty("model_name").GetString())));
        Assert.Equal(whole, events.Select(e => e.GetProperty(C.OutputIds).GetInt32()));
    }

    [Fact]
    public async Task Generate_stream_without_streaming_sends_the_whole_answer_as_one_event()
    {
        var whole = (await Backend.Client.InferAsync(Requests.Generate([5, 9], 4))).GetOutput<int>(C.OutputIds).Data;

        using var response = await Http.PostAsync(GenerateStream, Json("""{"input_ids": [5, 9], "input_lengths": 2, "request_output_len": 4, "end_id": -1, "runtime_top_k": 1}"""));

        var single = Assert.Single(await EventsAsync(response));
        Assert.Equal(whole, single.GetProperty(C.OutputIds).EnumerateArray().Select(v => v.GetInt32()));
    }

    [Fact]
    public async Task A_failure_after_the_first_event_is_an_error_event_in_the_stream()
    {
        // 4,000 positions: the stream is still generating when the scheduler stops, as at shutdown.
        await using var backend = await BackendHost.StartAsync(contextLength: 4096);
        using var http = backend.CreateRestClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, GenerateStream)
        {
            Content = Json("""{"input_ids": [5], "input_lengths": 1, "request_output_len": 4000, "end_id": -1, "streaming": true}"""),
            Version = http.DefaultRequestVersion,
            VersionPolicy = http.DefaultVersionPolicy,
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var events = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: {", await events.ReadLineAsync());

        backend.Model.Loaded!.Scheduler.Dispose();
        var rest = await events.ReadToEndAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // sent with the first event
        var last = rest.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)[^1].Trim();
        Assert.Equal("""data: {"error":"The server is shutting down."}""", last);
    }

    [Theory]
    [InlineData(Generate, """{"text_input": "Hà Nội", "max_tokens": 8}""", "This model takes token ids, not text: send 'input_ids'")]
    [InlineData(Generate, """{"input_ids": [[5, 6]], "input_lengths": 2, "request_output_len": 2}""", "Input 'input_ids' must be a value or a one-dimensional array")]
    [InlineData(Generate, """{"input_ids": [5, "x"], "input_lengths": 2, "request_output_len": 2}""", "Input 'input_ids' holds \"x\", which is not a valid INT32 element.")]
    [InlineData(Generate, """{"input_ids": [5], "input_lengths": 1, "request_output_len": 2, "stop_words_list": [1, 2, 3]}""", "Input 'stop_words_list' has 3 elements, which do not fill its shape [-1, 2, -1].")]
    [InlineData(Generate, """{"input_ids": [5], "input_lengths": 1, "request_output_len": 2, "temprature": [0.5]}""", "'temprature' is neither an input of this model nor a parameter")]
    [InlineData(Generate, """{"input_ids": [5], "input_lengths": 1, "parameters": {"request_output_len": 2}, "request_output_len": 2}""", "'request_output_len' is given twice")]
    [InlineData(Generate, """{"input_ids": [5], "input_lengths": 1, "request_output_len": 2, "parameters": [1]}""", "'parameters' must be an object.")]
    [InlineData(Generate, """{"input_ids": [5], "input_lengths": 1, "request_output_len": 2, "id": 7}""", "'id' must be a string.")]
    [InlineData(Generate, """{"input_ids": [5], "input_lengths": 1, "request_output_len": 2, "streaming": true}""", "Input 'streaming' is true, but this call sends one response; use generate_stream")]
    [InlineData(Generate, """{"input_ids": [5], "input_lengths": 1}""", "Missing required input 'request_output_len'")]
    [InlineData(Generate, """[1]""", "The request must be a JSON object")]
    [InlineData(Generate, """{"input_ids": [5], "input_lengths": 1, "request_output_len": 2, "id": "a\ud800"}""", "The string at 'id' escapes an unpaired UTF-16 surrogate")]
    [InlineData(GenerateStream, """{"input_ids": [5], "input_lengths": 1, "request_output_len": 2, "\udc00": "x"}""", "A name at the top level escapes an unpaired UTF-16 surrogate")]
    [InlineData(Generate, """{"input_ids": """, "The request is not valid JSON:")]
    [InlineData(GenerateStream, """{"input_ids": [99999], "input_lengths": 1, "request_output_len": 2, "streaming": true}""", "Input 'input_ids' row 0 holds token id 99999")]
    public async Task A_request_refused_before_generation_is_a_json_400_that_names_the_problem(string route, string body, string error)
    {
        using var response = await Http.PostAsync(route, Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith(error, (await JsonAsync(response)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task An_unknown_model_is_404_on_both_routes()
    {
        foreach (var route in new[] { "/v2/models/llama/generate", "/v2/models/gptj/versions/2/generate_stream" })
        {
            using var response = await Http.PostAsync(route, Json("""{"input_ids": [5], "input_lengths": 1, "request_output_len": 2}"""));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("is not found", (await JsonAsync(response)).GetProperty("error").GetString());
        }
    }

    private static async Task<List<JsonElement>> EventsAsync(HttpResponseMessage response)
    {
        var events = new List<JsonElement>();
        foreach (var block in (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", block);
            using var document = JsonDocument.Parse(block["data: ".Length..]);
            events.Add(document.RootElement.Clone());
        }
        return events;
    }
}
