using System.Buffers.Binary;
using GptjAspire.CpuBackend.Engine;
using static GptjAspire.CpuBackend.Tests.Engine.TorchArchive;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>Crafted checkpoints whose declared sizes, types or structure lie: each is a <see cref="CheckpointFormatException"/>
/// naming the file and the tensor, never a crash or an exception of another type.</summary>
public sealed class CheckpointFormatTests : IDisposable
{
    private const long TwoToThe62 = 1L << 62;
    private static readonly byte[] SixteenBytes = new byte[16];

    private readonly string folder = Directory.CreateTempSubdirectory("gptj-format-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string BinPath => Path.Combine(folder, "pytorch_model.bin");

    [Fact]
    public void Storage_declaring_2_to_the_62_elements_for_a_16_byte_entry_is_refused_naming_file_and_tensor()
    {
        // 2^62 F32 elements are 2^64 bytes: the byte count wraps to 0 in 64-bit arithmetic, which used to pass the check.
        var error = RefusedTorch(new TensorSpec("transformer.wte.weight", "0", TwoToThe62, 0, [TwoToThe62], [1]));
        Assert.Equal("transformer.wte.weight", error.Tensor);
        Assert.Contains("declares 4611686018427387904 F32 elements but entry archive/data/0 holds 16 bytes", error.Message);
    }

    [Fact]
    public void Storage_declaring_2_to_the_62_elements_is_refused_even_when_the_view_is_small()
    {
        var error = RefusedTorch(new TensorSpec("w", "0", TwoToThe62, 0, [4], [1]));
        Assert.Contains("declares 4611686018427387904 F32 elements", error.Message);
    }

    [Fact]
    public void Storage_of_type_collections_OrderedDict_is_refused_naming_the_tensor()
    {
        var error = RefusedTorch(new TensorSpec("w", "0", 4, 0, [4], [1], "collections", "OrderedDict"));
        Assert.Equal("w", error.Tensor);
        Assert.Contains("has type collections.OrderedDict, not a torch storage type", error.Message);
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MaxValue - 3)]
    [InlineData(-1L)]
    [InlineData(1L)]
    public void View_offset_outside_its_storage_is_refused(long offset)
    {
        var error = RefusedTorch(new TensorSpec("w", "0", 4, offset, [4], [1]));
        Assert.Contains($"at offset {offset} overrun its storage '0' of 4", error.Message);
    }

    [Fact]
    public void Shape_whose_element_count_overflows_64_bits_is_refused()
    {
        // 2^32 x 2^32 x 4 wraps to 0 elements in 64-bit arithmetic.
        var error = RefusedTorch(new TensorSpec("w", "0", 4, 0, [1L << 32, 1L << 32, 4], [1L << 34, 4, 1]));
        Assert.Contains("has more elements than its storage '0' of 4", error.Message);
    }

    [Fact]
    public void Negative_dimension_is_refused()
    {
        var error = RefusedTorch(new TensorSpec("w", "0", 4, 0, [-2, -2], [-2, 1]));
        Assert.Contains("has a negative dimension", error.Message);
    }

    [Fact]
    public void Stride_with_fewer_entries_than_the_shape_is_refused()
    {
        var error = RefusedTorch(new TensorSpec("w", "0", 4, 0, [2, 2], [1]));
        Assert.Contains("has 1 strides for 2 dimensions", error.Message);
    }

    [Fact]
    public void Transposed_view_is_refused_as_not_contiguous()
    {
        var error = RefusedTorch(new TensorSpec("w", "0", 4, 0, [2, 2], [1, 2]));
        Assert.Contains("is not contiguous", error.Message);
    }

    [Fact]
    public void Storage_without_an_archive_entry_is_refused()
    {
        var error = RefusedTorch(new TensorSpec("w", "7", 4, 0, [4], [1]));
        Assert.Contains("its storage '7' has no archive entry archive/data/7", error.Message);
    }

    [Fact]
    public void Two_tensors_of_one_name_are_refused()
    {
        var error = RefusedTorch(new TensorSpec("w", "0", 4, 0, [2], [1]), new TensorSpec("w", "0", 4, 2, [2], [1]));
        Assert.Contains("appears twice", error.Message);
    }

    [Fact]
    public void Views_that_fit_their_storage_load_at_their_offset()
    {
        File.WriteAllBytes(BinPath, Checkpoint([new("a", "0", 4, 0, [2], [1]), new("b", "0", 4, 2, [1, 2], [2, 1])], [("0", SixteenBytes)]));
        using var checkpoint = GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder);
        Assert.Equal(8, checkpoint.Tensors["b"].Data - checkpoint.Tensors["a"].Data);
        Assert.Equal([1L, 2L], checkpoint.Tensors["b"].Shape);
    }

    [Fact]
    public void Pickle_truncated_at_any_length_is_refused_naming_the_file()
    {
        var pickle = StateDict([new TensorSpec("w", "0", 4, 0, [4], [1])]);
        for (var length = 0; length < pickle.Length; length++)
        {
            File.WriteAllBytes(BinPath, Zip([("archive/data.pkl", pickle[..length]), ("archive/data/0", SixteenBytes)]));
            var error = Assert.Throws<CheckpointFormatException>(() => GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder));
            Assert.Equal(BinPath, error.File);
            Assert.Contains("archive/data.pkl", error.Message);
        }
    }

    [Fact]
    public void Pickle_cut_inside_an_operand_says_it_is_truncated()
    {
        var pickle = StateDict([new TensorSpec("w", "0", TwoToThe62, 0, [4], [1])]);
        var long1 = Array.IndexOf(pickle, (byte)0x8a); // LONG1 8, then the 8 bytes of 2^62
        File.WriteAllBytes(BinPath, Zip([("archive/data.pkl", pickle[..(long1 + 5)]), ("archive/data/0", SixteenBytes)]));
        var error = Assert.Throws<CheckpointFormatException>(() => GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder));
        Assert.Contains($"the opcode at offset {long1} needs 8 more bytes but the pickle ends after 3 (truncated?)", error.Message);
    }

    [Fact]
    public void Pickle_building_a_million_objects_is_refused_before_memory_runs_out()
    {
        // EMPTY_DICT is one byte that allocates a dictionary: a 1 MB pickle of them would claim about 100 MB.
        byte[] pickle = [0x80, 2, .. Enumerable.Repeat((byte)'}', 1_000_001), (byte)'.'];
        File.WriteAllBytes(BinPath, Zip([("archive/data.pkl", pickle), ("archive/data/0", SixteenBytes)]));
        var error = Assert.Throws<CheckpointFormatException>(() => GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder));
        Assert.Contains("archive/data.pkl: the pickle builds more than 1000000 objects", error.Message);
    }

    [Theory]
    [InlineData(12, "central directory (4294967295 bytes")]  // its size
    [InlineData(16, "at offset 4294967295) lies outside")]   // its offset
    [InlineData(10, "65535 entries cannot fit")]             // the entry count
    public void End_of_central_directory_field_set_to_its_maximum_is_refused(int field, string expected)
    {
        var archive = Checkpoint([new("w", "0", 4, 0, [4], [1])], [("0", SixteenBytes)]);
        var eocd = archive.Length - 22;
        Assert.Equal(0x06054b50u, BinaryPrimitives.ReadUInt32LittleEndian(archive.AsSpan(eocd)));
        archive.AsSpan(eocd + field, field == 10 ? 2 : 4).Fill(0xFF);
        File.WriteAllBytes(BinPath, archive);
        var error = Assert.Throws<CheckpointFormatException>(() => GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder));
        Assert.Equal(BinPath, error.File);
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData("[]", "header is a JSON Array, not an object of tensors")]
    [InlineData("5", "header is a JSON Number, not an object of tensors")]
    [InlineData("""{"w": 5}""", "tensor 'w': header entry is a JSON Number")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [4]}}""", "tensor 'w': header entry has no 'data_offsets'")]
    [InlineData("""{"w": {"dtype": 7, "shape": [4], "data_offsets": [0, 16]}}""", "tensor 'w': 'dtype' is a JSON Number, not a String")]
    [InlineData("""{"w": {"dtype": "F33", "shape": [4], "data_offsets": [0, 16]}}""", "tensor 'w': dtype 'F33' is not one of")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 16]}}""", "tensor 'w': 'shape' holds 1.5, not a 64-bit integer")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [18446744073709551616], "data_offsets": [0, 16]}}""", "not a 64-bit integer")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]}}""", "tensor 'w': shape [-2, -2] has a negative dimension")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 16]}}""", "tensor 'w': shape [4294967296, 4294967296, 4] has more elements than the file's")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 9223372036854775807]}}""", "tensor 'w': data_offsets [0, 9223372036854775807] are not a range inside the data (16 bytes)")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [4], "data_offsets": [-16, 0]}}""", "are not a range inside the data")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0]}}""", "are not a range inside the data")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}}""", "hold 16 bytes but F32[2] needs 8")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}""", "tensor 'w': appears twice")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""", "tensor 'b': its data_offsets overlap those of 'a'")]
    [InlineData("""{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]""", "header is not valid JSON")]
    [InlineData("""{"\ud800": 5}""", "header holds a string that is not valid Unicode")]
    public void Safetensors_header_that_lies_is_refused_naming_file_and_tensor(string header, string expected)
    {
        var path = Path.Combine(folder, "model.safetensors");
        File.WriteAllBytes(path, Safetensors(header, SixteenBytes));
        var error = Assert.Throws<CheckpointFormatException>(() => GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder));
        Assert.Equal(path, error.File);
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Safetensors_header_that_is_not_UTF8_is_refused()
    {
        var path = Path.Combine(folder, "model.safetensors");
        var file = Safetensors("{\"w\": 5}", SixteenBytes);
        file[10] = 0xBB; // a continuation byte where the name's first character was
        File.WriteAllBytes(path, file);
        var error = Assert.Throws<CheckpointFormatException>(() => GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder));
        Assert.Equal($"{path}: safetensors header is not valid UTF-8", error.Message);
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    [InlineData(19UL)] // one more than the 18 bytes after the size field
    public void Safetensors_header_size_beyond_the_file_is_refused(ulong headerSize)
    {
        var path = Path.Combine(folder, "model.safetensors");
        var file = Safetensors("{}", SixteenBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(file, headerSize);
        File.WriteAllBytes(path, file);
        var error = Assert.Throws<CheckpointFormatException>(() => GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder));
        Assert.Contains($"safetensors header size {headerSize} does not fit the file", error.Message);
    }

    [Fact]
    public void Sharded_index_naming_a_missing_shard_is_refused_naming_the_index()
    {
        var index = Path.Combine(folder, "model.safetensors.index.json");
        File.WriteAllText(index, """{"weight_map": {"w": "model-00001-of-00002.safetensors"}}""");
        var error = Assert.Throws<CheckpointFormatException>(() => GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder));
        Assert.Equal(index, error.File);
        Assert.Contains("names shard 'model-00001-of-00002.safetensors', which is not in", error.Message);
    }

    /// <summary>Writes a pytorch_model.bin of <paramref name="tensors"/> over one 16-byte storage "0" and expects it refused.</summary>
    private CheckpointFormatException RefusedTorch(params TensorSpec[] tensors)
    {
        File.WriteAllBytes(BinPath, Checkpoint(tensors, [("0", SixteenBytes)]));
        var error = Assert.Throws<CheckpointFormatException>(() => GptjAspire.CpuBackend.Engine.Checkpoint.Open(folder));
        Assert.Equal(BinPath, error.File);
        Assert.StartsWith(BinPath + ": ", error.Message);
        return error;
    }
}
