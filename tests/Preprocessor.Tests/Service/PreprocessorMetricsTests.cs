using GptjAspire.Gptj.V1;
using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Service;
using GptjAspire.Preprocessor.Tests.Backend;
using GptjAspire.Preprocessor.Text;
using GptjAspire.Tests.Shared;
using GptjAspire.TritonClient;
using Grpc.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using System.Diagnostics.Metrics;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>What <see cref="PreprocessorService"/> records for known requests against a scripted backend that answers one token per request.</summary>
public sealed class PreprocessorMetricsTests : IAsyncLifetime
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private ScriptedKServe _backendServer = null!;
    private TritonInferenceClient _client = null!;
    private PreprocessorService _service = null!;
    private MeterRecorder _metrics = null!;

    public async Task InitializeAsync()
    {
        _backendServer = await ScriptedKServe.StartAsync();
        _client = TritonInferenceClient.ForAddress(_backendServer.Address);
        var backend = new BackendModel(_client, ScriptedKServe.ModelName, NullLogger<BackendModel>.Instance);
        Assert.True((await backend.RefreshAsync(TimeSpan.FromSeconds(30), CancellationToken.None)).Ready);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new(TextModel.PathKey, TinyModel.Directory)]).Build();
        var meters = _services.GetRequiredService<IMeterFactory>();
        _metrics = new MeterRecorder(meters);
        _service = new PreprocessorService(TextModel.Load(configuration, NullLogger.Instance), backend,
            Options.Create(new PreprocessorOptions()), new PreprocessorMetrics(meters), NullLogger<PreprocessorService>.Instance);
    }

    public async Task DisposeAsync()
    {
        _metrics.Dispose();
        _client.Dispose();
        await _backendServer.DisposeAsync();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task Three_requests_record_exact_tokens_finish_reasons_and_backend_calls()
    {
        // The scripted backend generates one token: with max_new_tokens 1 the sample ends by length, with 4 by stop.
        var byLength = await _service.Generate(new GenerateRequest { Prompt = "xin chào", MaxNewTokens = 1 }, new TestCallContext());
        var byStop = await _service.Generate(new GenerateRequest { Prompt = "Hà Nội", MaxNewTokens = 4 }, new TestCallContext());
        var stream = new CollectingWriter<GenerateStreamResponse>();
        await _service.GenerateStream(new GenerateRequest { Prompt = "a b c", MaxNewTokens = 4 }, stream, new TestCallContext());
        var streamed = stream.Written.Last().Summary;

        var promptTokens = byLength.Usage.PromptTokens + byStop.Usage.PromptTokens + streamed.Usage.PromptTokens;
        Assert.Equal(TinyModel.Tokenizer.Encode("xin chào").Length + TinyModel.Tokenizer.Encode("Hà Nội").Length + TinyModel.Tokenizer.Encode("a b c").Length, promptTokens);
        Assert.Equal(promptTokens, _metrics.Sum("gen_ai.client.token.usage", ("gen_ai.token.type", "input")));
        Assert.Equal(3, _metrics.Sum("gen_ai.client.token.usage", ("gen_ai.token.type", "output")));
        Assert.Equal(1, _metrics.Sum("gptj.preprocessor.completions", ("gen_ai.response.finish_reason", "length")));
        Assert.Equal(2, _metrics.Sum("gptj.preprocessor.completions", ("gen_ai.response.finish_reason", "stop")));
        var calls = _metrics.Of("gen_ai.client.operation.duration", ("gen_ai.operation.name", "text_completion"), ("gen_ai.request.model", ScriptedKServe.ModelName));
        Assert.Equal(3, calls.Count);
        Assert.All(calls, call => Assert.False(call.Tags.ContainsKey("error.type")));
        Assert.Empty(_metrics.Of("gptj.preprocessor.backend.errors"));
    }

    [Fact]
    public async Task A_backend_refusal_counts_one_error_by_status_and_no_completion()
    {
        _backendServer.Script(StreamAnswer.QueueFullStatus);

        var error = await Assert.ThrowsAnyAsync<RpcException>(() =>
            _service.Generate(new GenerateRequest { Prompt = "xin chào", MaxNewTokens = 4 }, new TestCallContext()));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(1, _metrics.Sum("gptj.preprocessor.backend.errors", ("error.type", "ResourceExhausted")));
        Assert.Single(_metrics.Of("gen_ai.client.operation.duration", ("error.type", "ResourceExhausted")));
        Assert.Empty(_metrics.Of("gptj.preprocessor.completions"));
        Assert.Empty(_metrics.Of("gen_ai.client.token.usage"));
    }
}
