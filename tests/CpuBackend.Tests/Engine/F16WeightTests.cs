using System.Runtime.InteropServices;
using GptjAspire.CpuBackend.Engine;
using static GptjAspire.CpuBackend.Tests.Engine.TorchArchive;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>An f16 row that holds a subnormal half, which the kernels would widen into a float subnormal (a microcode
/// assist per multiply on Intel cores), is stored times 2^10 with a scale of 2^-10: every weight keeps its exact value,
/// in the engine's own memory, never in the file.</summary>
public sealed unsafe class F16WeightTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("gptj-f16-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    // Four rows of 20 (one vector of 16 and a tail): subnormals of both signs, largest and smallest, in the vector part
    // and in the tail; no subnormal; a subnormal beside 64, which times 2^10 would overflow; zeros of both signs.
    private static readonly ushort[][] Rows =
    [
        [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x3C00, 0xBC00, 0x2A3D, 0x0200, 0x53FF, 0xD3FF, 0x0400, 0x1234, 0x0010, 0x9234, 0x8200, 0x3555],
        [0x3C00, 0x2A3D, 0xBC00, 0x0400, 0x8400, 0x0000, 0x8000, 0x1234, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00],
        [0x5400, 0x0001, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00],
        [0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x0000, 0x8000, 0x83FF],
    ];

    private const int Cols = 20;

    [Fact]
    public void An_f16_checkpoint_keeps_every_weight_exact_and_is_never_written_on_disk()
    {
        var data = MemoryMarshal.AsBytes(Rows.SelectMany(r => r).ToArray().AsSpan()).ToArray();
        var path = Path.Combine(folder, "model.safetensors");
        var file = Safetensors($$$"""{"w": {"dtype": "F16", "shape": [{{{Rows.Length}}}, {{{Cols}}}], "data_offsets": [0, {{{data.Length}}}]}}""", data);
        File.WriteAllBytes(path, file);

        using (var checkpoint = GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder))
        using (var w = Matrix.Load(checkpoint.Tensors["w"], Rows.Length, Cols, storage: null))
            AssertExactWithoutSubnormals(w, Rows.Select(r => r.Select(BitConverter.UInt16BitsToHalf).Select(h => (float)h).ToArray()).ToArray());

        Assert.Equal(file, File.ReadAllBytes(path));
    }

    [Fact]
    public void Weights_converted_to_f16_keep_the_value_of_each_half_including_subnormals()
    {
        var halves = Rows.Select(r => r.Select(h => (float)BitConverter.UInt16BitsToHalf(h)).ToArray()).ToArray();
        // Floats that round to a subnormal or to the smallest normal half, rather than being one.
        halves[3][0] = 6.1e-5f;
        halves[3][1] = 6.103e-5f;
        halves[3][2] = -3e-8f;
        var source = halves.SelectMany(r => r).ToArray();
        var handle = GCHandle.Alloc(source, GCHandleType.Pinned);
        try
        {
            using var w = Matrix.Load(new CheckpointTensor("w", "F32", [Rows.Length, Cols], handle.AddrOfPinnedObject()), Rows.Length, Cols, WeightType.F16);
            AssertExactWithoutSubnormals(w, halves.Select(r => r.Select(v => (float)(Half)v).ToArray()).ToArray());
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>Every row reads back as <paramref name="expected"/> (bit for bit, so signed zeros too), and only the row
    /// whose weight of 64 cannot be scaled up still stores a subnormal half.</summary>
    private static void AssertExactWithoutSubnormals(Matrix w, float[][] expected)
    {
        var row = new float[Cols];
        for (var r = 0; r < Rows.Length; r++)
        {
            w.RowToFloat(r, row);
            Assert.Equal(expected[r].Select(BitConverter.SingleToInt32Bits), row.Select(BitConverter.SingleToInt32Bits));
            // Row r of the one panel: element i at i · PanelWidth + r.
            var stored = Enumerable.Range(0, Cols).Select(i => ((ushort*)w.Data)[i * Matrix.PanelWidth + r]).ToArray();
            var holdsSubnormal = stored.Any(h => (h & 0x7C00) == 0 && (h & 0x3FF) != 0);
            Assert.Equal(r == 2, holdsSubnormal);
        }
    }
}
