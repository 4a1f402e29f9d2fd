// Benchmark suites, run by hand: dotnet run --project benchmarks/Benchmarks -c Release -- <suite> [options]
// Each suite measures its anchor (grpcio, HF tokenizers, PyTorch, direct backend calls) in the same run
// and prints medians and the ratio. Add a suite as one line in this table.
var suites = new SortedDictionary<string, Func<string[], Task<int>>>(StringComparer.OrdinalIgnoreCase)
{
    ["engine"] = GptjAspire.Benchmarks.Engine.EngineSuite.RunAsync,
    ["gateway"] = GptjAspire.Benchmarks.Gateway.GatewaySuite.RunAsync,
    ["load"] = GptjAspire.Benchmarks.Gateway.PredictLoadSuite.RunAsync,
    ["overload"] = GptjAspire.Benchmarks.Gateway.OverloadSuite.RunAsync,
    ["grpc"] = GptjAspire.Benchmarks.Grpc.GrpcSuite.RunAsync,
    ["scheduler"] = GptjAspire.Benchmarks.Scheduler.ChunkedPrefillSuite.RunAsync,
    ["tokenizer"] = GptjAspire.Benchmarks.Tokenizer.TokenizerBenchmark.RunAsync,
};

if (args.Length == 0 || !suites.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: Benchmarks <suite> [options]; suites: {string.Join(", ", suites.Keys)}");
    return 2;
}
return await run(args[1..]);
