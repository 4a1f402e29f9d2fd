using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>A committed PyTorch reference (tools/gptj_reference/make_fixtures.py): a checkpoint in two formats and its expected outputs.</summary>
public sealed class ReferenceFixture
{
    public static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "gptj");

    public static readonly string[] Names = ["partial-rotary-f32", "full-rotary-f16", "sharded-bf16"];

    private ReferenceFixture(string name, List<ReferencePrompt> prompts)
    {
        Name = name;
        Prompts = prompts;
    }

    public string Name { get; }

    public IReadOnlyList<ReferencePrompt> Prompts { get; }

    /// <summary>The folder holding the checkpoint as <paramref name="format"/> ("safetensors" or "pytorch").</summary>
    public string Directory(string format) => Path.Combine(Root, Name, format);

    public static ReferenceFixture Load(string name)
    {
        // Read with a separate small parser, not the engine's, so a loader bug cannot hide in both.
        var bytes = File.ReadAllBytes(Path.Combine(Root, name, "reference.safetensors"));
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        var dataStart = 8 + headerLength;
        T[] Tensor<T>(string key) where T : struct
        {
            var offsets = header.RootElement.GetProperty(key).GetProperty("data_offsets");
            int begin = offsets[0].GetInt32(), end = offsets[1].GetInt32();
            return MemoryMarshal.Cast<byte, T>(bytes.AsSpan(dataStart + begin, end - begin)).ToArray();
        }
        var prompts = new List<ReferencePrompt>();
        for (var i = 0; header.RootElement.TryGetProperty($"prompt{i}.ids", out _); i++)
            prompts.Add(new ReferencePrompt(Tensor<int>($"prompt{i}.ids"), Tensor<float>($"prompt{i}.logits"), Tensor<int>($"prompt{i}.greedy")));
        return new ReferenceFixture(name, prompts);
    }
}

/// <summary>A prompt, the reference logits of all its positions, and the reference greedy continuation.</summary>
public sealed record ReferencePrompt(int[] Ids, float[] Logits, int[] Greedy);
