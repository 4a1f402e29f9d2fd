using System.Numerics.Tensors;
using GptjAspire.CpuBackend.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>The engine's smallest committed random GPT-J (vocabulary 1000, context 128), loaded once per test class.</summary>
public sealed class TinyModel : IDisposable
{
    public GptjModel Model { get; } = GptjModel.Load(
        Path.Combine(AppContext.BaseDirectory, "Fixtures", "gptj", "partial-rotary-f32", "safetensors"), null, NullLogger.Instance);

    public int ContextLength => Model.Config.ContextLength;

    /// <summary>Greedy continuation by the plainest loop: one prefill, then one single-sequence decode per token.</summary>
    public int[] GreedyReference(int[] prompt, int count)
    {
        var vocab = Model.Config.VocabSize;
        var logits = new float[vocab];
        var cache = Model.CreateCache();
        Model.Prefill(prompt, cache, logits);
        var tokens = new List<int> { TensorPrimitives.IndexOfMax(logits) };
        while (tokens.Count < count && prompt.Length + tokens.Count < ContextLength)
        {
            Model.Decode([tokens[^1]], [cache], logits);
            tokens.Add(TensorPrimitives.IndexOfMax(logits));
        }
        return tokens.ToArray();
    }

    public static int[] Prompt(int length, int salt) => Enumerable.Range(0, length).Select(i => (i * 37 + salt * 101 + 5) % 1000).ToArray();

    public void Dispose() => Model.Dispose();
}
