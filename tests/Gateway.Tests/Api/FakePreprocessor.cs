using GptjAspire.Gptj.V1;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>A scripted gptj.v1.Preprocessor on a real loopback gRPC endpoint: records what the Gateway sends and answers as the test says.</summary>
public sealed class FakePreprocessor : IAsyncDisposable
{
    readonly WebApplication _app;

    FakePreprocessor(WebApplication app) => _app = app;

    public List<GenerateRequest> Requests { get; } = [];

    /// <summary>Answer to Generate; defaults to one completion per sample, "sample i" each.</summary>
    public Func<GenerateRequest, GenerateResponse> Generate { get; set; } = DefaultResponse;

    /// <summary>Messages GenerateStream writes, in order.</summary>
    public Func<GenerateRequest, IEnumerable<GenerateStreamResponse>> Stream { get; set; } = DefaultStream;

    /// <summary>How long each Generate call takes before it answers (a backend at work).</summary>
    public TimeSpan GenerateDelay { get; set; }

    /// <summary>The most Generate and GenerateStream calls in progress at once so far.</summary>
    public int MostConcurrentCalls => _mostConcurrentCalls;

    int _concurrentCalls;
    int _mostConcurrentCalls;

    /// <summary>Status the next calls fail with (after writing the stream messages, for GenerateStream), if any.</summary>
    public RpcException? Failure { get; set; }

    /// <summary>When set, GenerateStream writes its messages and then waits until the call is cancelled.</summary>
    public bool HangAfterStream { get; set; }

    /// <summary>Completes when a GenerateStream call saw its cancellation token fire.</summary>
    public TaskCompletionSource StreamCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Answer to GetModelInfo; defaults to what the Preprocessor reports for GPT-J behind CpuBackend with default settings.</summary>
    public ModelInfo Info { get; set; } = new()
    {
        Name = "gptj", ContextLength = 2048, VocabSize = 50400, Ready = true,
        MaxSamples = 16, MaxStopSequences = 16, MaxPromptTokens = 2047, MaxNewTokens = 2047,
    };

    /// <summary>GetModelInfo calls answered.</summary>
    public int InfoCalls => _infoCalls;

    int _infoCalls;

    public string Address => _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

    public static async Task<FakePreprocessor> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // One cleartext HTTP/2 endpoint on a free port (overriding the Gateway's appsettings.json, which is in this output folder too).
        builder.Configuration["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0";
        builder.Configuration["Kestrel:Endpoints:http:Protocols"] = "Http2";
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<Service>();
        builder.Services.AddSingleton<IServiceMethodProvider<Service>, ServiceMethods>();
        var app = builder.Build();
        var fake = new FakePreprocessor(app);
        app.Services.GetRequiredService<Service>().Fake = fake;
        app.MapGrpcService<Service>();
        await app.StartAsync();
        return fake;
    }

    async Task<GenerateResponse> OnGenerate(GenerateRequest request, ServerCallContext context)
    {
        using var call = Begin(request);
        if (Failure is { } failure)
            throw failure;
        if (GenerateDelay > TimeSpan.Zero)
            await Task.Delay(GenerateDelay, context.CancellationToken);
        return Generate(request);
    }

    async Task OnStream(GenerateRequest request, IServerStreamWriter<GenerateStreamResponse> writer, ServerCallContext context)
    {
        using var call = Begin(request);
        using var registration = context.CancellationToken.Register(() => StreamCancelled.TrySetResult());
        foreach (var message in Stream(request))
            await writer.WriteAsync(message, context.CancellationToken);
        if (Failure is { } failure)
            throw failure;
        if (HangAfterStream)
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
    }

    // Records the request and counts the call as in progress until the result is disposed.
    CallInProgress Begin(GenerateRequest request)
    {
        lock (Requests)
            Requests.Add(request);
        var now = Interlocked.Increment(ref _concurrentCalls);
        for (var most = _mostConcurrentCalls; now > most; most = _mostConcurrentCalls)
            Interlocked.CompareExchange(ref _mostConcurrentCalls, now, most);
        return new CallInProgress(this);
    }

    sealed class CallInProgress(FakePreprocessor fake) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref fake._concurrentCalls);
    }

    static GenerateResponse DefaultResponse(GenerateRequest request)
    {
        var response = new GenerateResponse { Model = "gptj", Usage = new Usage { PromptTokens = 3, CompletionTokens = 2 * Math.Max(1, request.N) } };
        for (var i = 0; i < Math.Max(1, request.N); i++)
            response.Completions.Add(new Completion { Index = i, Text = (request.Echo ? request.Prompt : "") + $" mẫu {i}", FinishReason = FinishReason.Length, CompletionTokens = 2 });
        return response;
    }

    static IEnumerable<GenerateStreamResponse> DefaultStream(GenerateRequest request)
    {
        var samples = Math.Max(1, request.N);
        for (var i = 0; i < samples; i++)
            yield return new GenerateStreamResponse { Delta = new TextDelta { Index = i, Text = " Việt" } };
        for (var i = 0; i < samples; i++)
            yield return new GenerateStreamResponse { Delta = new TextDelta { Index = i, Text = " Nam" } };
        var summary = new GenerateSummary { Model = "gptj", Usage = new Usage { PromptTokens = 3, CompletionTokens = 2 * samples } };
        for (var i = 0; i < samples; i++)
            summary.Completions.Add(new Completion { Index = i, FinishReason = FinishReason.Stop, CompletionTokens = 2 });
        yield return new GenerateStreamResponse { Summary = summary };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    sealed class Service
    {
        public FakePreprocessor Fake { get; set; } = null!;
    }

    /// <summary>Binds the gptj.v1.Preprocessor methods the Gateway calls; the Gateway compiles only the client side of the .proto, so the fake declares them itself.</summary>
    sealed class ServiceMethods : IServiceMethodProvider<Service>
    {
        public void OnServiceMethodDiscovery(ServiceMethodProviderContext<Service> context)
        {
            context.AddUnaryMethod(Method(MethodType.Unary, "Generate", GenerateRequest.Parser, GenerateResponse.Parser), [],
                (service, request, call) => service.Fake.OnGenerate(request, call));
            context.AddServerStreamingMethod(Method(MethodType.ServerStreaming, "GenerateStream", GenerateRequest.Parser, GenerateStreamResponse.Parser), [],
                (service, request, writer, call) => service.Fake.OnStream(request, writer, call));
            // A stand-in tokenizer: one id per UTF-16 unit of the text, and back.
            context.AddUnaryMethod(Method(MethodType.Unary, "Tokenize", TokenizeRequest.Parser, TokenizeResponse.Parser), [],
                (service, request, _) => service.Fake.Failure is { } failure
                    ? Task.FromException<TokenizeResponse>(failure)
                    : Task.FromResult(new TokenizeResponse { NormalizedText = request.Text, TokenIds = { request.Text.Select(c => (int)c) } }));
            context.AddUnaryMethod(Method(MethodType.Unary, "Detokenize", DetokenizeRequest.Parser, DetokenizeResponse.Parser), [],
                (service, request, _) => Task.FromResult(new DetokenizeResponse { Text = new string(request.TokenIds.Select(id => (char)id).ToArray()) }));
            context.AddUnaryMethod(Method(MethodType.Unary, "GetModelInfo", GetModelInfoRequest.Parser, ModelInfo.Parser), [],
                (service, _, _) =>
                {
                    Interlocked.Increment(ref service.Fake._infoCalls);
                    return Task.FromResult(service.Fake.Info);
                });
        }

        static Method<TRequest, TResponse> Method<TRequest, TResponse>(MethodType type, string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
            where TRequest : class, IMessage<TRequest>
            where TResponse : class, IMessage<TResponse> =>
            new(type, Preprocessor.Descriptor.FullName, name, Marshallers.Create(m => m.ToByteArray(), request.ParseFrom), Marshallers.Create(m => m.ToByteArray(), response.ParseFrom));
    }
}
