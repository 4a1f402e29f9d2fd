using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>What the server answers when the model is not there, and when it is full.</summary>
public class BackendStateTests
{
    [Fact]
    public async Task Server_without_a_loadable_model_is_live_but_not_ready_and_infer_is_UNAVAILABLE()
    {
        await using var backend = await BackendHost.StartAsync(modelPath: Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N")), waitForModel: false);

        Assert.True(await backend.Client.IsServerLiveAsync());
        Assert.False(await backend.Client.IsServerReadyAsync());
        Assert.False(await backend.Client.IsModelReadyAsync("gptj"));
        var error = await Assert.ThrowsAsync<TritonException>(() => backend.Client.InferAsync(Requests.Generate([5], 2)));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        var index = await backend.Client.GetRepositoryIndexAsync();
        Assert.NotEqual("READY", Assert.Single(index.Models).State);
        Assert.Empty((await backend.Client.GetRepositoryIndexAsync(readyOnly: true)).Models);
    }

    [Fact]
    public async Task Grpc_health_is_NOT_SERVING_without_a_model_and_SERVING_once_loaded()
    {
        await using var missing = await BackendHost.StartAsync(modelPath: Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N")), waitForModel: false);
        await using var loaded = await BackendHost.StartAsync();

        foreach (var service in new[] { "", "inference.GRPCInferenceService" })
        {
            Assert.Equal(ServingStatus.NotServing, await CheckAsync(missing, service));
            Assert.Equal(ServingStatus.Serving, await CheckAsync(loaded, service));
        }
    }

    private static async Task<ServingStatus> CheckAsync(BackendHost backend, string service)
    {
        using var channel = GrpcChannel.ForAddress(backend.Address);
        return (await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest { Service = service })).Status;
    }

    [Fact]
    public async Task Server_reflection_lists_the_KServe_and_health_services()
    {
        await using var backend = await BackendHost.StartAsync(modelPath: Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N")), waitForModel: false);
        using var channel = GrpcChannel.ForAddress(backend.Address);
        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();

        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("inference.GRPCInferenceService", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task Full_queue_is_RESOURCE_EXHAUSTED()
    {
        // The first row must still be running when the third is queued: with 48 positions a row ends within
        // microseconds, and a stalled request thread (a busy CI machine) let all three in. 4,000 steps without an
        // end token take the loop far longer than queueing two more rows.
        const int contextLength = 4096;
        await using var backend = await BackendHost.StartAsync(new Dictionary<string, string?>
        {
            ["Generation:MaxQueuedRequests"] = "1",
            ["Generation:MaxBatchSequences"] = "1",
        }, contextLength: contextLength);
        // Three prompts in one request queue back to back: one can run, one can wait, the third finds the queue full.
        var request = new GptjAspire.TritonClient.Protocol.ModelInferRequest { ModelName = "gptj" }
            .AddInput<int>("input_ids", [3, 1], [5, 6, 7])
            .AddInput<int>("input_lengths", [3, 1], [1, 1, 1])
            .AddInput<int>("request_output_len", [3, 1], [contextLength - 1, contextLength - 1, contextLength - 1])
            .AddInput<int>("end_id", [3, 1], [-1, -1, -1]);

        var error = await Assert.ThrowsAsync<TritonException>(() => backend.Client.InferAsync(request));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }
}
