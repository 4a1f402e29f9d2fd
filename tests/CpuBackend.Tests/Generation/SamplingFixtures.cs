using System.Text.Json;
using GptjAspire.CpuBackend.Generation;

namespace GptjAspire.CpuBackend.Tests.Generation;

/// <summary>The reference cases written by tools/sampling_reference/make_fixtures.py (HF logits processing in torch).</summary>
internal static class SamplingFixtures
{
    private static readonly Lazy<JsonElement> Root = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Generation", "Fixtures", "sampling_cases.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return document.RootElement.Clone();
    });

    public static IEnumerable<JsonElement> Cases => Root.Value.GetProperty("cases").EnumerateArray();

    public static IEnumerable<JsonElement> RandomStreams => Root.Value.GetProperty("random_streams").EnumerateArray();

    public static JsonElement Case(string name) => Cases.Single(c => c.GetProperty("name").GetString() == name);

    public static TheoryData<string> CaseNames(bool greedy)
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Where(c => c.GetProperty("greedy").GetBoolean() == greedy))
            data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    public static float[] Logits(JsonElement c) => Floats(c.GetProperty("logits"));

    /// <summary>Expected scores; removed tokens (null in the JSON) are -inf.</summary>
    public static float[] Scores(JsonElement c) => Floats(c.GetProperty("scores"));

    public static int[] Context(JsonElement c) => c.GetProperty("context").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public static double[] Probabilities(JsonElement c) => c.GetProperty("probabilities").EnumerateArray().Select(e => e.GetDouble()).ToArray();

    public static Sampler Sampler(JsonElement c, ulong seed = 1, int sequence = 0)
    {
        var p = c.GetProperty("params");
        var parameters = new SamplingParameters(
            TopK: p.GetProperty("top_k").GetInt32(),
            TopP: (float)p.GetProperty("top_p").GetDouble(),
            Temperature: (float)p.GetProperty("temperature").GetDouble(),
            RepetitionPenalty: (float)p.GetProperty("repetition_penalty").GetDouble());
        var badWords = c.GetProperty("bad_words").EnumerateArray()
            .Select(w => w.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        return new Sampler(parameters, badWords, seed, sequence);
    }

    private static float[] Floats(JsonElement array) =>
        array.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? float.NegativeInfinity : (float)e.GetDouble()).ToArray();
}
