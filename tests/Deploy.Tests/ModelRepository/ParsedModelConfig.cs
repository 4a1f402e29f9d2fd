using System.Text.Json;
using GptjAspire.Deploy.Tests.Support;
using GptjAspire.Testing;

namespace GptjAspire.Deploy.Tests.ModelRepository;

/// <summary>One tensor declared in a config.pbtxt: name, Triton datatype (TYPE_*), dims without the batch dimension, optional flag.</summary>
internal sealed record DeclaredTensor(string Name, string DataType, long[] Dims, bool Optional);

/// <summary>A config.pbtxt parsed by protobuf's text-format parser against our model_config.proto (parse_model_config.py).</summary>
internal sealed class ParsedModelConfig
{
    // Debian's interpreter: it has python3-protobuf and python3-grpc-tools (the first python3 on PATH may not).
    private const string Python = "/usr/bin/python3";

    private ParsedModelConfig(JsonElement root) => Root = root;

    public JsonElement Root { get; }

    public string Name => Root.GetProperty("name").GetString() ?? "";

    public string Backend => Root.TryGetProperty("backend", out var b) ? b.GetString() ?? "" : "";

    public int MaxBatchSize => Root.TryGetProperty("max_batch_size", out var m) ? m.GetInt32() : 0;

    public bool Decoupled => Root.TryGetProperty("model_transaction_policy", out var p)
        && p.TryGetProperty("decoupled", out var d) && d.GetBoolean();

    public IReadOnlyList<DeclaredTensor> Inputs => Tensors("input");

    public IReadOnlyList<DeclaredTensor> Outputs => Tensors("output");

    public string? Parameter(string key) =>
        Root.TryGetProperty("parameters", out var parameters) && parameters.TryGetProperty(key, out var value)
            ? value.GetProperty("string_value").GetString()
            : null;

    /// <summary>Parses <paramref name="configPath"/>; the result carries the parser's exit code and message when it is rejected.</summary>
    public static async Task<(ParsedModelConfig? Config, CommandResult Result)> ParseAsync(string configPath)
    {
        var result = await ExternalCommand.RunAsync(Python,
        [
            RepositoryPaths.Combine("tests", "Deploy.Tests", "ModelRepository", "parse_model_config.py"),
            RepositoryPaths.Combine("TritonClient", "Protos"),
            configPath,
        ]);
        if (result.ExitCode != 0)
        {
            return (null, result);
        }

        using var json = JsonDocument.Parse(result.Stdout);
        return (new ParsedModelConfig(json.RootElement.Clone()), result);
    }

    private List<DeclaredTensor> Tensors(string field)
    {
        if (!Root.TryGetProperty(field, out var list))
        {
            return [];
        }

        // int64 dims arrive as JSON strings (proto3 JSON mapping).
        return list.EnumerateArray().Select(t => new DeclaredTensor(
            t.GetProperty("name").GetString() ?? "",
            t.TryGetProperty("data_type", out var type) ? type.GetString() ?? "" : "",
            t.TryGetProperty("dims", out var dims) ? dims.EnumerateArray().Select(d => long.Parse(d.GetString()!, System.Globalization.CultureInfo.InvariantCulture)).ToArray() : [],
            t.TryGetProperty("optional", out var optional) && optional.GetBoolean())).ToList();
    }
}
