using System.Net;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>Triton's extensions beyond inference: statistics (what perf_analyzer and tritonclient's get_inference_statistics
/// read before and after a measurement), over gRPC and REST, and model control, refused as Triton refuses it when off.</summary>
public sealed class TritonExtensionTests : IAsyncLifetime
{
    private BackendHost _backend = null!;
    private GrpcChannel _channel = null!;
    private GRPCInferenceService.GRPCInferenceServiceClient _grpc = null!;

    public async Task InitializeAsync()
    {
        _backend = await BackendHost.StartAsync();
        _channel = GrpcChannel.ForAddress(_backend.Address);
        _grpc = new GRPCInferenceService.GRPCInferenceServiceClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task Each_request_is_counted_once_as_success_or_failure_with_its_queue_run_inputs_and_outputs()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var empty = await StatisticsAsync();

        await _backend.Client.InferAsync(Requests.Generate([5, 9, 2], 4, id: "whole"));
        await foreach (var _ in _backend.Client.StreamInferAsync(Requests.Generate([7, 1], 3, streaming: true, id: "streamed")))
        {
        }
        var twoRows = new ModelInferRequest { ModelName = "gptj", Id = "two-rows" }
            .AddInput<int>(C.InputIds, [2, 2], [3, 4, 5, 6])
            .AddInput<int>(C.InputLengths, [2, 1], [2, 2])
            .AddInput<int>(C.RequestOutputLen, [2, 1], [3, 3]);
        await _backend.Client.InferAsync(twoRows);
        var refused = Requests.Generate([5, 9, 2], 4, id: "refused");
        refused.Inputs[0].Datatype = "FP32";
        await Assert.ThrowsAsync<GptjAspire.TritonClient.TritonException>(() => _backend.Client.InferAsync(refused));
        var after = await StatisticsAsync();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        Assert.Equal(("gptj", "1"), (empty.Name, empty.Version));
        Assert.Equal((0UL, 0UL, 0UL, 0UL), (empty.InferenceCount, empty.ExecutionCount, empty.InferenceStats.Success.Count, empty.LastInference));
        var stats = after.InferenceStats;
        Assert.Equal(3UL, stats.Success.Count);
        Assert.Equal(1UL, stats.Fail.Count);
        Assert.Equal(4UL, after.InferenceCount); // the two-row request counts two inferences and one execution
        Assert.Equal(3UL, after.ExecutionCount);
        Assert.Equal(4UL, stats.Queue.Count); // each row of a request waits for the batch on its own
        Assert.Equal(4UL, stats.ComputeInfer.Count);
        Assert.Equal(3UL, stats.ComputeInput.Count); // the refused request's inputs never were read whole
        Assert.True(stats.ComputeOutput.Count >= 3, $"{stats.ComputeOutput.Count} outputs written");
        Assert.True(stats.Success.Ns >= stats.ComputeInput.Ns, "whole requests take at least their inputs' time");
        Assert.True(stats.ComputeInfer.Ns > 0 && stats.Fail.Ns > 0);
        Assert.InRange((long)after.LastInference, before, now);
        Assert.Equal((0UL, 0UL), (stats.CacheHit.Count, stats.CacheMiss.Count));
    }

    [Fact]
    public async Task Statistics_of_an_unknown_model_or_version_are_not_found_and_an_empty_name_means_every_model()
    {
        var every = await _grpc.ModelStatisticsAsync(new ModelStatisticsRequest());
        var unknownModel = await Assert.ThrowsAsync<RpcException>(() => _grpc.ModelStatisticsAsync(new ModelStatisticsRequest { Name = "llama" }).ResponseAsync);
        var unknownVersion = await Assert.ThrowsAsync<RpcException>(() => _grpc.ModelStatisticsAsync(new ModelStatisticsRequest { Name = "gptj", Version = "2" }).ResponseAsync);

        Assert.Equal("gptj", Assert.Single(every.ModelStats).Name);
        Assert.Equal(StatusCode.NotFound, unknownModel.StatusCode);
        Assert.Equal(StatusCode.NotFound, unknownVersion.StatusCode);
        Assert.Contains("statistics", (await _backend.Client.GetServerMetadataAsync()).Extensions);
    }

    [Fact]
    public async Task Grpc_model_load_and_unload_are_unavailable_as_on_triton_with_model_control_off()
    {
        var load = await Assert.ThrowsAsync<RpcException>(() => _grpc.RepositoryModelLoadAsync(new RepositoryModelLoadRequest { ModelName = "gptj" }).ResponseAsync);
        var unload = await Assert.ThrowsAsync<RpcException>(() => _grpc.RepositoryModelUnloadAsync(new RepositoryModelUnloadRequest { ModelName = "gptj" }).ResponseAsync);

        Assert.All(new[] { load, unload }, error =>
        {
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);
            Assert.StartsWith("explicit model load / unload is not allowed", error.Status.Detail);
        });
    }

    [Fact]
    public async Task Rest_statistics_are_the_grpc_ones_with_counts_as_json_numbers()
    {
        using var http = _backend.CreateRestClient();
        await _backend.Client.InferAsync(Requests.Generate([5, 9, 2], 4));

        using var model = await http.GetAsync("/v2/models/gptj/stats");
        using var version = await http.GetAsync("/v2/models/gptj/versions/1/stats");
        using var every = await http.GetAsync("/v2/models/stats");
        using var unknown = await http.GetAsync("/v2/models/llama/stats");

        foreach (var response in new[] { model, version, every })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var stats = Assert.Single(json.RootElement.GetProperty("model_stats").EnumerateArray());
            Assert.Equal("gptj", stats.GetProperty("name").GetString());
            Assert.Equal(JsonValueKind.Number, stats.GetProperty("inference_count").ValueKind); // Triton writes numbers, not strings
            Assert.Equal(1, stats.GetProperty("inference_count").GetInt64());
            Assert.Equal(1, stats.GetProperty("inference_stats").GetProperty("success").GetProperty("count").GetInt64());
            Assert.True(stats.GetProperty("inference_stats").GetProperty("success").GetProperty("ns").GetInt64() > 0);
        }
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private async Task<ModelStatistics> StatisticsAsync() =>
        Assert.Single((await _grpc.ModelStatisticsAsync(new ModelStatisticsRequest { Name = "gptj" })).ModelStats);
}
