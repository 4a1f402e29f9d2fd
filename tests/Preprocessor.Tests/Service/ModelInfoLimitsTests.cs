extern alias gateway;
using Google.Rpc;
using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Generation;
using GptjAspire.Preprocessor.Tests.Backend;
using GptjAspire.TritonClient.Generation;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using GenerateRequest = gateway::GptjAspire.Gptj.V1.GenerateRequest;
using GetModelInfoRequest = gateway::GptjAspire.Gptj.V1.GetModelInfoRequest;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>GetModelInfo reports the limits the Preprocessor enforces: the backend's model configuration where it states them, the
/// Preprocessor's options otherwise.</summary>
public sealed class ModelInfoLimitsTests
{
    [Fact]
    public async Task Limits_stated_by_the_backend_configuration_are_reported_and_enforced()
    {
        await using var host = await PreprocessorHost.StartAsync(backend =>
        {
            backend.ConfigParameters[GenerationContract.MaxNumSequencesParameter] = "2";
            backend.ConfigParameters[GenerationContract.ContextLengthParameter] = "20";
            backend.ConfigParameters[GenerationContract.MaxInputLenParameter] = "10";
        }, new() { ["Preprocessor:MaxStopSequences"] = "3", ["Model:Name"] = "gptj" });

        var info = await host.Client.GetModelInfoAsync(new GetModelInfoRequest());

        Assert.Equal(("gptj", 20, 2, 3, 10, 19), (info.Name, info.ContextLength, info.MaxSamples, info.MaxStopSequences, info.MaxPromptTokens, info.MaxNewTokens));
        var error = await Assert.ThrowsAsync<RpcException>(() => host.Client.GenerateAsync(new GenerateRequest { Prompt = "xyz", N = 3 }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("n", Assert.Single(error.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations).Field);
        Assert.Contains("between 1 and 2", error.Status.Detail);
    }

    [Fact]
    public async Task While_the_backend_is_down_the_limits_it_last_stated_are_reported()
    {
        // They were the Preprocessor's own defaults (max_samples 64 for a backend that takes 2 here, 16 in CpuBackend).
        var backend = await ScriptedKServe.StartAsync();
        backend.ConfigParameters[GenerationContract.MaxNumSequencesParameter] = "2";
        await using var host = await PreprocessorHost.StartAsync(backend.Address, _ => { });
        var model = host.Services.GetRequiredService<BackendModel>();
        Assert.True((await model.RefreshAsync(TimeSpan.FromSeconds(30), CancellationToken.None)).Ready);

        await backend.DisposeAsync();
        var down = await model.RefreshAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        var info = await host.Client.GetModelInfoAsync(new GetModelInfoRequest());

        Assert.False(down.Ready);
        Assert.False(info.Ready);
        Assert.Equal(2, info.MaxSamples);
    }

    [Fact]
    public async Task A_request_beyond_the_backends_kv_cache_is_invalid_before_it_reaches_the_backend()
    {
        await using var host = await PreprocessorHost.StartAsync(backend =>
            backend.ConfigParameters[GenerationContract.MaxTokensInKvCacheParameter] = "20");

        var error = await Assert.ThrowsAsync<RpcException>(() => host.Client.GenerateAsync(new GenerateRequest { Prompt = "xyz", N = 3, MaxNewTokens = 5 }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("n", Assert.Single(error.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations).Field);
        Assert.Empty(host.Backend.Received);
    }

    [Fact]
    public async Task Without_backend_limits_the_folder_context_and_the_options_apply()
    {
        await using var host = await PreprocessorHost.StartAsync();

        var info = await host.Client.GetModelInfoAsync(new GetModelInfoRequest());

        Assert.Equal((TinyModel.ContextLength, 64, 16, TinyModel.ContextLength - 1, TinyModel.ContextLength - 1),
            (info.ContextLength, info.MaxSamples, info.MaxStopSequences, info.MaxPromptTokens, info.MaxNewTokens));
    }

    [Fact]
    public async Task A_bad_option_stops_the_preprocessor_at_startup_naming_it()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => PreprocessorHost.StartAsync(settings: new() { ["Preprocessor:MaxSamples"] = "0" }));

        Assert.Contains("MaxSamples", error.Message);
    }
}
