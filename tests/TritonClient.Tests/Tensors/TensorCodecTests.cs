using System.Text;
using Google.Protobuf;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.TritonClient.Tests.Tensors;

public class TensorCodecTests
{
    [Fact]
    public void Int32_input_is_written_little_endian_row_major_and_reads_back()
    {
        var request = new ModelInferRequest().AddInput<int>("input_ids", [1, 3], [1, 256, -2]);

        Assert.Equal("INT32", request.Inputs[0].Datatype);
        Assert.Equal([1L, 3L], request.Inputs[0].Shape);
        Assert.Equal(new byte[] { 1, 0, 0, 0, 0, 1, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF }, request.RawInputContents[0].ToByteArray());
        var tensor = request.GetInput<int>("input_ids");
        Assert.Equal([1, 256, -2], tensor.Data);
        Assert.Equal(256, tensor[0, 1]);
    }

    [Fact]
    public void Every_fixed_size_type_round_trips_through_raw_contents()
    {
        var request = new ModelInferRequest()
            .AddInput<long>("i64", [2], [long.MinValue, 7])
            .AddInput<ulong>("u64", [1, 1], [ulong.MaxValue - 1])
            .AddInput<float>("f32", [2], [0.5f, -3.25f])
            .AddInput<Half>("f16", [2], [(Half)1.5f, (Half)(-0.125f)])
            .AddInput<bool>("flag", [3], [true, false, true]);

        Assert.Equal([long.MinValue, 7L], request.GetInput<long>("i64").Data);
        Assert.Equal([ulong.MaxValue - 1], request.GetInput<ulong>("u64").Data);
        Assert.Equal([0.5f, -3.25f], request.GetInput<float>("f32").Data);
        Assert.Equal([(Half)1.5f, (Half)(-0.125f)], request.GetInput<Half>("f16").Data);
        Assert.Equal(new byte[] { 0x00, 0x3E, 0x00, 0xB0 }, request.RawInputContents[3].ToByteArray());
        Assert.Equal(new byte[] { 1, 0, 1 }, request.RawInputContents[4].ToByteArray());
        Assert.Equal([true, false, true], request.GetInput<bool>("flag").Data);
    }

    [Fact]
    public void Bytes_elements_are_four_byte_little_endian_length_prefixed()
    {
        var request = new ModelInferRequest().AddInput<string>("text", [2], ["ab", "Việt"]);

        var raw = request.RawInputContents[0].ToByteArray();
        byte[] expected = [2, 0, 0, 0, (byte)'a', (byte)'b', 6, 0, 0, 0, .. Encoding.UTF8.GetBytes("Việt")];
        Assert.Equal(expected, raw);
        var decoded = request.GetInput<byte[]>("text").Data;
        Assert.Equal("Việt", Encoding.UTF8.GetString(decoded[1]));
        Assert.Equal(["ab", "Việt"], request.GetInput<string>("text").Data);
    }

    [Fact]
    public void Truncated_bytes_element_is_an_error_naming_the_tensor()
    {
        var error = Assert.Throws<TensorFormatException>(() => TensorCodec.DecodeBytes("text", new byte[] { 5, 0, 0, 0, 1, 2 }));
        Assert.Equal("text", error.TensorName);
        Assert.Contains("declares 5 bytes", error.Message);
    }

    [Fact]
    public void Raw_contents_of_the_wrong_byte_size_are_rejected_with_name_shape_and_sizes()
    {
        var request = new ModelInferRequest();
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "input_lengths", Datatype = "INT32" };
        input.Shape.Add([1, 1]);
        request.Inputs.Add(input);
        request.RawInputContents.Add(ByteString.CopyFrom(1, 0, 0));

        var error = Assert.Throws<TensorFormatException>(() => request.GetInput<int>("input_lengths"));
        Assert.Contains("'input_lengths'", error.Message);
        Assert.Contains("[1, 1]", error.Message);
        Assert.Contains("needs 4 bytes", error.Message);
    }

    [Fact]
    public void Wrong_datatype_is_rejected_naming_both_types()
    {
        var request = new ModelInferRequest().AddInput<float>("runtime_top_k", [1, 1], [3f]);

        var error = Assert.Throws<TensorFormatException>(() => request.GetInput<int>("runtime_top_k"));
        Assert.Contains("FP32", error.Message);
        Assert.Contains("expected INT32", error.Message);
    }

    [Fact]
    public void Typed_contents_are_read_when_there_are_no_raw_contents()
    {
        var request = new ModelInferRequest();
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "input_ids", Datatype = "INT32", Contents = new InferTensorContents() };
        input.Shape.Add([1, 2]);
        input.Contents.IntContents.Add([11, 12]);
        request.Inputs.Add(input);

        Assert.Equal([11, 12], request.GetInput<int>("input_ids").Data);
    }

    [Fact]
    public void Typed_contents_with_too_few_elements_are_rejected()
    {
        var request = new ModelInferRequest();
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "input_ids", Datatype = "INT32", Contents = new InferTensorContents() };
        input.Shape.Add([1, 3]);
        input.Contents.IntContents.Add([11, 12]);
        request.Inputs.Add(input);

        var error = Assert.Throws<TensorFormatException>(() => request.GetInput<int>("input_ids"));
        Assert.Contains("needs 3 elements; got 2", error.Message);
    }

    [Fact]
    public void Fp16_has_no_typed_form()
    {
        var request = new ModelInferRequest();
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "h", Datatype = "FP16", Shape = { 1 }, Contents = new InferTensorContents() });

        Assert.Throws<TensorFormatException>(() => request.GetInput<Half>("h"));
    }

    [Fact]
    public void Raw_contents_must_have_one_entry_per_input()
    {
        var request = new ModelInferRequest().AddInput<int>("a", [1], [1]);
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "b", Datatype = "INT32", Shape = { 1 } });

        var error = Assert.Throws<TensorFormatException>(() => request.GetInput<int>("b"));
        Assert.Contains("one per input", error.Message);
    }

    [Fact]
    public void Adding_values_that_do_not_fill_the_shape_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new ModelInferRequest().AddInput<int>("input_ids", [2, 2], [1, 2, 3]));
    }

    [Fact]
    public void Missing_optional_input_reads_as_null()
    {
        Assert.Null(new ModelInferRequest().FindInput<int>("end_id"));
    }

    [Fact]
    public void Response_outputs_read_back_and_final_flag_is_recognised()
    {
        var response = new ModelInferResponse().AddOutput<int>("output_ids", [1, 2, 2], [5, 6, 7, 8]);
        response.Parameters["triton_final_response"] = new InferParameter { BoolParam = true };

        var ids = response.GetOutput<int>("output_ids");
        Assert.Equal(7, ids[0, 1, 0]);
        Assert.True(response.IsFinalResponse());
        Assert.False(new ModelInferResponse().IsFinalResponse());
        var missing = Assert.Throws<TensorFormatException>(() => response.GetOutput<int>("sequence_length"));
        Assert.Contains("output_ids", missing.Message);
    }

    [Fact]
    public void Bytes_is_string_in_model_configuration()
    {
        Assert.Equal(DataType.TypeString, KServeDatatype.ToConfig("BYTES"));
        Assert.Equal("BYTES", KServeDatatype.FromConfig(DataType.TypeString));
        Assert.Equal("UINT64", KServeDatatype.FromConfig(DataType.TypeUint64));
    }
}
