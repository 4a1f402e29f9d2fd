using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>Building requests for the scheduler tests and reading their streams back.</summary>
internal static class GenerationRequests
{
    public static readonly SamplingParameters Greedy = new(TopK: 1);

    public static GenerationRequest Request(int[] prompt, int maxNewTokens, SamplingParameters sampling, int numSequences = 1) =>
        new(Guid.NewGuid().ToString("N"), prompt, maxNewTokens, numSequences, sampling, EndId: null, StopWords: [], BadWords: []);

    public static async Task<List<GenerationStep>> Collect(IAsyncEnumerable<GenerationStep> steps)
    {
        var all = new List<GenerationStep>();
        await foreach (var step in steps.ConfigureAwait(false))
            all.Add(step);
        return all;
    }

    public static int[] Tokens(IEnumerable<GenerationStep> steps, int sequence) =>
        steps.SelectMany(step => step.Tokens).Where(t => t.Sequence == sequence).Select(t => t.TokenId).ToArray();
}
