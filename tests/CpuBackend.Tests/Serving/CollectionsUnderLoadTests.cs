using System.Text.RegularExpressions;
using GptjAspire.CpuBackend.Tests.DemoModel;
using GptjAspire.TritonClient;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>The real CpuBackend under a stream of short generations: the KV blocks each request takes and gives back
/// do not have the runtime collect the old generation over and over.</summary>
public sealed partial class CollectionsUnderLoadTests
{
    private const int Requests = 1500, Concurrency = 32;

    [Fact]
    public async Task Many_short_generations_do_not_set_off_gen2_collections()
    {
        await using var backend = await CpuBackendProcess.StartAsync(DemoCheckpoint.Directory);
        using var http = new HttpClient();
        using var client = TritonInferenceClient.ForAddress(backend.GrpcUrl.ToString());
        await client.InferAsync(Serving.Requests.Generate([5, 6, 7], 4)); // warm-up: the first caches and the JIT
        var before = await Gen2CollectionsAsync(http, backend);

        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= Requests)
                await client.InferAsync(Serving.Requests.Generate([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], 16));
        }));

        // Until 27 Nov each cache added its block to the collector's memory pressure and took it off at release; this
        // turnover had the runtime start a background gen2 collection about once per 60 requests (KvMemory).
        var collections = await Gen2CollectionsAsync(http, backend) - before;
        Assert.True(collections <= 5, $"{collections} gen2 collections during {Requests} requests");
    }

    private static async Task<long> Gen2CollectionsAsync(HttpClient http, CpuBackendProcess backend)
    {
        var metrics = await http.GetStringAsync(new Uri(backend.HttpUrl, "/metrics"));
        return long.Parse(Gen2().Match(metrics).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex("""^dotnet_gc_collections_total\{[^}]*gc_heap_generation="gen2"[^}]*\} (\d+)""", RegexOptions.Multiline)]
    private static partial Regex Gen2();
}
