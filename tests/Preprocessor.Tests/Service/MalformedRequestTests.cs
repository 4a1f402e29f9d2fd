using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using GptjAspire.Preprocessor.Errors;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>Request messages that do not parse, sent as raw bytes: INVALID_ARGUMENT with this service's ErrorInfo, and the
/// service goes on serving (Grpc.AspNetCore alone answers UNKNOWN and logs a stack trace per request).</summary>
public sealed class MalformedRequestTests : IAsyncLifetime
{
    static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    PreprocessorHost _host = null!;
    GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _host = await PreprocessorHost.StartAsync();
        _channel = GrpcChannel.ForAddress(_host.Address);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _host.DisposeAsync();
    }

    public static TheoryData<string, MethodType, byte[]> Calls => new()
    {
        // Field 1 (text / prompt), length 6: "abc" then bytes that are not UTF-8.
        { "Tokenize", MethodType.Unary, [0x0a, 0x06, (byte)'a', (byte)'b', (byte)'c', 0xff, 0xfe, 0xc3] },
        { "Generate", MethodType.Unary, [0x0a, 0x06, (byte)'a', (byte)'b', (byte)'c', 0xff, 0xfe, 0xc3] },
        // Field 1 announces 100 bytes; 3 follow.
        { "GenerateStream", MethodType.ServerStreaming, [0x0a, 0x64, (byte)'a', (byte)'b', (byte)'c'] },
        { "Detokenize", MethodType.Unary, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] },
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task A_request_message_that_does_not_parse_is_INVALID_ARGUMENT_with_its_reason(string method, MethodType type, byte[] message)
    {
        var raw = new Method<byte[], byte[]>(type, Gptj.V1.Preprocessor.Descriptor.FullName, method, Bytes, Bytes);
        var invoker = _channel.CreateCallInvoker();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            if (type == MethodType.Unary)
            {
                await invoker.AsyncUnaryCall(raw, null, new CallOptions(), message).ResponseAsync;
                return;
            }
            using var call = invoker.AsyncServerStreamingCall(raw, null, new CallOptions(), message);
            await call.ResponseStream.MoveNext();
        });

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains($"{method} is not a valid", error.Status.Detail);
        var info = error.GetRpcStatus()!.GetDetail<ErrorInfo>()!;
        Assert.Equal((RpcErrors.Domain, "INVALID_FIELD"), (info.Domain, info.Reason));
        Assert.DoesNotContain(_host.Log.Lines, line => line.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
        Assert.NotEmpty((await _host.Client.TokenizeAsync(new() { Text = "xin chào" })).TokenIds);
    }
}
