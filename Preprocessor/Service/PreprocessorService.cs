using System.Diagnostics;
using System.Text;
using GptjAspire.Gptj.V1;
using Grpc.Core;
using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Errors;
using GptjAspire.ServiceDefaults;
using GptjAspire.Preprocessor.Generation;
using GptjAspire.Preprocessor.Text;
using Microsoft.Extensions.Options;

namespace GptjAspire.Preprocessor.Service;

/// <summary>The gptj.v1.Preprocessor gRPC service: text in, text out, the backend's tensors in between.</summary>
[BindServiceMethod(typeof(PreprocessorService), nameof(BindService))]
public sealed class PreprocessorService(
    TextModel text, BackendModel backend, IOptions<PreprocessorOptions> options, PreprocessorMetrics metrics, ILogger<PreprocessorService> logger)
    : Gptj.V1.Preprocessor.PreprocessorBase
{
    /// <summary>The generated binding, with request messages that do not parse answered INVALID_ARGUMENT (<see cref="MalformedRequestGuard"/>).</summary>
    /// <remarks>Typed as the generated base: Grpc.AspNetCore binds the methods that override that type's.</remarks>
    public static void BindService(ServiceBinderBase binder, Gptj.V1.Preprocessor.PreprocessorBase service) =>
        Gptj.V1.Preprocessor.BindService(new MalformedRequestGuard(binder,
            message => RpcErrors.Create(StatusCode.InvalidArgument, message, ErrorReason.InvalidField)), service);

    /// <summary>The service's descriptor, where server reflection looks for it: on the type <see cref="BindServiceMethodAttribute"/> names.</summary>
    public static Google.Protobuf.Reflection.ServiceDescriptor Descriptor => Gptj.V1.Preprocessor.Descriptor;

    public override async Task<GenerateResponse> Generate(GenerateRequest request, ServerCallContext context)
    {
        backend.RequireReady();
        var plan = Plan(request);
        var started = Stopwatch.GetTimestamp();
        var samples = NewSamples(plan);
        // A stop string need not fall on token boundaries, so stop_words_list alone cannot end every stop at the
        // backend: with stops, the whole result is read as a token stream and cancelled once every sample's text stopped.
        await GenerateAsync(plan, samples, streaming: plan.Stop.Count > 0, _ => Task.CompletedTask, context);
        foreach (var sample in samples)
            sample.EndOfOutput();

        var result = new GenerateResponse { Model = backend.Name, RequestId = plan.RequestId, Usage = Usage(plan, samples) };
        result.Completions.AddRange(samples.Select((s, i) => Completion(i, (plan.Echo ? plan.Prompt : "") + s.Text, s)));
        metrics.Completed(plan, samples, backend.Name);
        Log(plan, samples, started);
        return result;
    }

    public override async Task GenerateStream(GenerateRequest request, IServerStreamWriter<GenerateStreamResponse> writer, ServerCallContext context)
    {
        backend.RequireReady();
        var plan = Plan(request);
        var started = Stopwatch.GetTimestamp();
        var samples = NewSamples(plan);
        if (plan.Echo)
            for (var i = 0; i < samples.Length; i++)
                await writer.WriteAsync(Delta(i, plan.Prompt), context.CancellationToken);

        await GenerateAsync(plan, samples, streaming: true,
            delta => writer.WriteAsync(new GenerateStreamResponse { Delta = delta }, context.CancellationToken), context);

        for (var i = 0; i < samples.Length; i++)
            if (samples[i].EndOfOutput() is { Length: > 0 } tail)
                await writer.WriteAsync(Delta(i, tail), context.CancellationToken);
        var summary = new GenerateSummary { Model = backend.Name, RequestId = plan.RequestId, Usage = Usage(plan, samples) };
        summary.Completions.AddRange(samples.Select((s, i) => Completion(i, "", s)));
        await writer.WriteAsync(new GenerateStreamResponse { Summary = summary }, context.CancellationToken);
        metrics.Completed(plan, samples, backend.Name);
        Log(plan, samples, started);
    }

    // Triton serves a decoupled model (TensorRT-LLM's config.pbtxt) only through ModelStreamInfer, so every call is a
    // stream: streaming=false asks for the full output (one response per sample or one for all, sequence_index tells
    // which), streaming=true for one response per token. Feeds the tokens to the samples, hands each delta of text on,
    // and leaves as soon as every sample ended (end of text, stop sequence), which cancels the backend request.
    async Task GenerateAsync(GenerationPlan plan, SampleText[] samples, bool streaming, Func<TextDelta, Task> onDelta, ServerCallContext context)
    {
        var backendRequest = GenerationTensors.Request(plan, backend.Name, streaming);
        var responses = backend.StreamInferAsync(backendRequest, context.Deadline, context.CancellationToken);
        await foreach (var response in metrics.BackendCall(responses, backend.Name, context.CancellationToken))
        {
            foreach (var (sample, tokens) in GenerationTensors.Tokens(response, plan.Samples))
            {
                var delta = new TextDelta { Index = sample };
                var text = new StringBuilder();
                foreach (var token in tokens)
                {
                    text.Append(samples[sample].Append(token));
                    delta.TokenIds.Add(token);
                }
                if (text.Length > 0)
                {
                    delta.Text = text.ToString();
                    await onDelta(delta);
                }
            }
            if (samples.All(s => s.Finished))
                break;
        }
    }

    public override Task<TokenizeResponse> Tokenize(TokenizeRequest request, ServerCallContext context)
    {
        var normalized = Tokenizer.Nfc.Normalize(request.Text);
        var response = new TokenizeResponse { NormalizedText = normalized };
        try
        {
            response.TokenIds.AddRange(text.Tokenizer.Encode(normalized));
        }
        catch (Tokenizer.InvalidTextException e)
        {
            throw InvalidArgument.For("text", $"The text is not valid at character {e.Position}: {e.Message}");
        }
        return Task.FromResult(response);
    }

    public override Task<DetokenizeResponse> Detokenize(DetokenizeRequest request, ServerCallContext context)
    {
        var vocabSize = text.Tokenizer.VocabSize;
        for (var i = 0; i < request.TokenIds.Count; i++)
            if (request.TokenIds[i] < 0 || request.TokenIds[i] >= vocabSize)
                throw InvalidArgument.For($"token_ids[{i}]", $"Token id {request.TokenIds[i]} is outside the vocabulary [0, {vocabSize}).");
        var ids = request.TokenIds.ToArray();
        return Task.FromResult(new DetokenizeResponse { Text = text.Tokenizer.Decode(ids, request.SkipSpecialTokens) });
    }

    public override Task<ModelInfo> GetModelInfo(GetModelInfoRequest request, ServerCallContext context)
    {
        var state = backend.State;
        var limits = Limits(state);
        return Task.FromResult(new ModelInfo
        {
            Name = backend.Name,
            ContextLength = limits.ContextLength,
            VocabSize = text.Tokenizer.VocabSize,
            EndOfTextId = text.Tokenizer.EndOfTextId ?? -1,
            BackendPlatform = state.Platform,
            Ready = state.Ready,
            MaxSamples = limits.MaxSamples,
            MaxStopSequences = limits.MaxStopSequences,
            MaxPromptTokens = limits.MaxPromptTokens,
            MaxNewTokens = limits.MaxNewTokens,
        });
    }

    ModelLimits Limits(BackendState state) => ModelLimits.Resolve(text.ContextLength, options.Value, state.Limits) with { VocabSize = text.VocabSize };

    GenerationPlan Plan(GenerateRequest request) => GenerationPlan.Create(request, text.Tokenizer, Limits(backend.State));

    SampleText[] NewSamples(GenerationPlan plan) =>
        Enumerable.Range(0, plan.Samples).Select(_ => new SampleText(text.Tokenizer, plan)).ToArray();

    static GenerateStreamResponse Delta(int index, string text) => new() { Delta = new TextDelta { Index = index, Text = text } };

    static Completion Completion(int index, string text, SampleText sample) =>
        new() { Index = index, Text = text, FinishReason = sample.Finish, CompletionTokens = sample.TokenCount };

    static Usage Usage(GenerationPlan plan, SampleText[] samples) =>
        new() { PromptTokens = plan.PromptIds.Length, CompletionTokens = samples.Sum(s => s.TokenCount) };

    // Debug, as the backend's line for each finished request: a line per request cost 2% of the throughput at 32 clients
    // on 2 cores (docs/grpc.md), and each request's trace carries the same figures.
    void Log(GenerationPlan plan, SampleText[] samples, long started)
    {
        if (!logger.IsEnabled(LogLevel.Debug)) return;
        logger.LogDebug("Generated {Request}: {PromptTokens} prompt tokens, {Samples} samples, {CompletionTokens} new tokens, finish {Finish} in {Elapsed:F0} ms",
            plan.RequestId, plan.PromptIds.Length, plan.Samples, samples.Sum(s => s.TokenCount),
            string.Join(",", samples.Select(s => s.Finish)), Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }
}
