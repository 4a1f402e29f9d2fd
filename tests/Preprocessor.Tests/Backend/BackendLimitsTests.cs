using GptjAspire.Preprocessor.Backend;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Generation;
using Microsoft.Extensions.Logging.Abstractions;

namespace GptjAspire.Preprocessor.Tests.Backend;

/// <summary>The limits a backend's model configuration states reach the Preprocessor with its readiness; a misconfigured one keeps it not ready, named.</summary>
public sealed class BackendLimitsTests
{
    static async Task<BackendState> RefreshAsync(Action<ScriptedKServe> configure)
    {
        await using var server = await ScriptedKServe.StartAsync();
        configure(server);
        using var client = TritonInferenceClient.ForAddress(server.Address);
        var backend = new BackendModel(client, ScriptedKServe.ModelName, NullLogger<BackendModel>.Instance);
        return await backend.RefreshAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
    }

    [Fact]
    public async Task Parameters_of_the_model_configuration_become_the_backends_limits()
    {
        var state = await RefreshAsync(server =>
        {
            server.ConfigParameters[GenerationContract.ContextLengthParameter] = "2048";
            server.ConfigParameters[GenerationContract.MaxNumSequencesParameter] = "64";
            server.ConfigParameters[GenerationContract.MaxTokensInKvCacheParameter] = "65536";
            server.ConfigParameters[GenerationContract.KvCacheSharesPromptParameter] = "true";
        });

        Assert.True(state.Ready, state.Detail);
        Assert.Equal(new BackendLimits(2048, 64, null, 65536, KvCacheSharesPrompt: true), state.Limits);
    }

    [Fact]
    public async Task A_sharing_flag_that_is_not_true_or_false_keeps_the_backend_not_ready_naming_it()
    {
        var state = await RefreshAsync(server => server.ConfigParameters[GenerationContract.KvCacheSharesPromptParameter] = "yes");

        Assert.False(state.Ready);
        Assert.Contains($"'{GenerationContract.KvCacheSharesPromptParameter}' = 'yes'; it must be true or false", state.Detail);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("many")]
    public async Task A_parameter_that_is_not_a_positive_integer_keeps_the_backend_not_ready_naming_it(string value)
    {
        var state = await RefreshAsync(server => server.ConfigParameters[GenerationContract.MaxNumSequencesParameter] = value);

        Assert.False(state.Ready);
        Assert.Contains($"'{GenerationContract.MaxNumSequencesParameter}' = '{value}'", state.Detail);
    }
}
