using Grpc.Core;
using Grpc.Net.Client;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;
using C = GptjAspire.TritonClient.Generation.GenerationContract;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>Requests a hostile or broken client sends over the wire: each is refused with INVALID_ARGUMENT naming what is
/// wrong, before the server allocates for it, and the server goes on serving.</summary>
public sealed class HostileRequestTests : IAsyncLifetime
{
    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);
    private static readonly Method<byte[], byte[]> RawModelInfer = new(MethodType.Unary, GRPCInferenceService.Descriptor.FullName, "ModelInfer", Bytes, Bytes);
    private static readonly Method<byte[], byte[]> RawModelStreamInfer = new(MethodType.DuplexStreaming, GRPCInferenceService.Descriptor.FullName, "ModelStreamInfer", Bytes, Bytes);

    private BackendHost _backend = null!;
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _backend = await BackendHost.StartAsync();
        _channel = GrpcChannel.ForAddress(_backend.Address);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _backend.DisposeAsync();
    }

    private TritonInferenceClient Client => _backend.Client;

    [Theory]
    [InlineData(int.MaxValue, false)]
    [InlineData(int.MaxValue, true)]
    [InlineData(10_000_000, false)]
    public async Task A_number_of_samples_beyond_the_batch_is_refused_naming_the_tensor(int samples, bool streaming)
    {
        // A buffer per sample was allocated before this was checked: int.MaxValue answered INTERNAL (out of memory).
        var request = Requests.Generate([5], 2, samples: samples, streaming: streaming);

        var error = await Assert.ThrowsAsync<TritonException>(async () =>
        {
            if (streaming)
                await foreach (var _ in Client.StreamInferAsync(request)) { }
            else
                await Client.InferAsync(request);
        });

        // A stream reports a request's error in-band, as text: the status and the tensor's name, no details.
        if (streaming)
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        else
            AssertViolation(error, StatusCode.InvalidArgument, C.NumReturnSequences);
        Assert.Contains($"'{C.NumReturnSequences}'", error.Message);
        await AssertStillServesAsync();
    }

    [Theory]
    [InlineData(4L, 1L << 62)] // 2^64 elements: the count itself overflows
    [InlineData(1L, 1L << 62)] // 2^62 INT32 elements: their byte count overflows
    public async Task A_shape_too_large_to_count_is_refused_naming_the_tensor(long batch, long width)
    {
        var request = new ModelInferRequest { ModelName = "gptj", Id = "huge-shape" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = C.InputIds, Datatype = "INT32", Shape = { batch, width } });
        request.RawInputContents.Add(Google.Protobuf.ByteString.CopyFrom(new byte[12]));
        request.AddInput<int>(C.InputLengths, [batch, 1], [.. Enumerable.Repeat(3, (int)batch)])
            .AddInput<int>(C.RequestOutputLen, [batch, 1], [.. Enumerable.Repeat(2, (int)batch)]);

        var error = await Assert.ThrowsAsync<TritonException>(() => Client.InferAsync(request));

        AssertViolation(error, StatusCode.InvalidArgument, C.InputIds);
        Assert.DoesNotContain("needs -", error.Status.Detail);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task A_unary_request_larger_than_kestrels_default_body_limit_is_read()
    {
        // 40 MB of prompt: past Kestrel's 30 MB default, within the 64 MiB a KServe message may have. It is read, then
        // refused for what it says (far beyond the context window), not cut off as UNKNOWN.
        const int tokens = 10_000_000;
        var request = new ModelInferRequest { ModelName = "gptj", Id = "large" }
            .AddInput<int>(C.InputIds, [1, tokens], new int[tokens])
            .AddInput<int>(C.InputLengths, [1, 1], [tokens])
            .AddInput<int>(C.RequestOutputLen, [1, 1], [1]);

        var error = await Assert.ThrowsAsync<TritonException>(() => Client.InferAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("context window", error.Status.Detail);
    }

    public static TheoryData<string, byte[]> MalformedMessages => new()
    {
        // Field 1 (model_name), length 6: "abc" then bytes that are not UTF-8.
        { "a string field that is not UTF-8", [0x0a, 0x06, (byte)'a', (byte)'b', (byte)'c', 0xff, 0xfe, 0xc3] },
        // Field 1 announces 100 bytes; 3 follow.
        { "a truncated field", [0x0a, 0x64, (byte)'a', (byte)'b', (byte)'c'] },
        { "bytes that are not protobuf", [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] },
    };

    [Theory]
    [MemberData(nameof(MalformedMessages))]
    public async Task A_request_message_that_does_not_parse_is_INVALID_ARGUMENT(string what, byte[] message)
    {
        var call = _channel.CreateCallInvoker().AsyncUnaryCall(RawModelInfer, null, new CallOptions(), message);

        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.True(error.StatusCode == StatusCode.InvalidArgument, $"{what}: {error.Status}");
        Assert.Contains("ModelInfer is not a valid ModelInferRequest message", error.Status.Detail);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task A_message_that_does_not_parse_ends_a_stream_with_INVALID_ARGUMENT()
    {
        using var call = _channel.CreateCallInvoker().AsyncDuplexStreamingCall(RawModelStreamInfer, null, new CallOptions());
        await call.RequestStream.WriteAsync([0x0a, 0x64, (byte)'a']);
        await call.RequestStream.CompleteAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("ModelStreamInfer is not a valid ModelInferRequest message", error.Status.Detail);
        await AssertStillServesAsync();
    }

    private static void AssertViolation(TritonException error, StatusCode code, string tensor)
    {
        Assert.Equal(code, error.StatusCode);
        Assert.Contains($"'{tensor}'", error.Status.Detail);
        var violation = Assert.Single(error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations);
        Assert.Equal(tensor, violation.Field);
    }

    private async Task AssertStillServesAsync()
    {
        var response = await Client.InferAsync(Requests.Generate([5, 6], 3));
        Assert.Equal([1L, 1L, 5L], response.GetOutput<int>(C.OutputIds).Shape);
    }
}
