using Google.Protobuf;
using GptjAspire.GrpcTransport.Tests.Testing;

namespace GptjAspire.GrpcTransport.Tests.TestService;

/// <summary>The C# implementation of transport.testing.v1.TestService, with Grpc.Core-shaped handlers.</summary>
public sealed class TestServiceImpl(CallLedger ledger)
{
    public static void Bind(GrpcServiceBinder<TestServiceImpl> binder)
    {
        binder.AddUnaryMethod(TestServiceMethods.Echo, (s, r, c) => s.Echo(r, c));
        binder.AddServerStreamingMethod(TestServiceMethods.Count, (s, r, w, c) => s.Count(r, w, c));
        binder.AddClientStreamingMethod(TestServiceMethods.Collect, (s, r, c) => s.Collect(r, c));
        binder.AddDuplexStreamingMethod(TestServiceMethods.Chat, (s, r, w, c) => s.Chat(r, w, c));
        binder.AddUnaryMethod(TestServiceMethods.WaitForCallEnd, (s, r, c) => s.WaitForCallEnd(r, c));
    }

    public Task<EchoReply> Echo(EchoRequest request, ServerCallContext context) =>
        Track(request.CallId, context, async () =>
        {
            await EchoMetadataAsync(context);
            await WaitAsync(request, context);
            if (request.FailViaContextStatus)
            {
                context.Status = new Status((StatusCode)request.FailWithCode, request.FailWithMessage);
                return Reply(request, 0);
            }
            FailIfAsked(request);
            return Reply(request, 0);
        });

    public Task Count(EchoRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context) =>
        Track(request.CallId, context, async () =>
        {
            await EchoMetadataAsync(context);
            for (var i = 0; i < request.ReplyCount; i++)
            {
                await WaitAsync(request, context);
                await responseStream.WriteAsync(Reply(request, i));
            }
            FailIfAsked(request);
            return true;
        });

    public Task<EchoReply> Collect(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context) =>
        Track("", context, async () =>
        {
            var texts = new List<string>();
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                FailIfAsked(request);
                texts.Add(request.Text);
            }
            return new EchoReply { Text = string.Join(' ', texts), Index = texts.Count };
        });

    public Task Chat(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context) =>
        Track("", context, async () =>
        {
            var index = 0;
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                await WaitAsync(request, context);
                FailIfAsked(request);
                await responseStream.WriteAsync(Reply(request, index++));
            }
            return true;
        });

    public async Task<CallEnd> WaitForCallEnd(CallEndRequest request, ServerCallContext context) =>
        new() { Cancelled = await ledger.WaitAsync(request.CallId, context.CancellationToken) };

    private async Task<T> Track<T>(string callId, ServerCallContext context, Func<Task<T>> body)
    {
        try
        {
            var result = await body();
            ledger.Ended(callId, cancelled: false);
            return result;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            ledger.Ended(callId, cancelled: true);
            throw;
        }
        catch
        {
            ledger.Ended(callId, cancelled: context.CancellationToken.IsCancellationRequested);
            throw;
        }
    }

    private static async Task EchoMetadataAsync(ServerCallContext context)
    {
        var echoed = new Metadata();
        foreach (var entry in context.RequestHeaders.Where(e => e.Key.StartsWith("x-", StringComparison.Ordinal)))
        {
            echoed.Add(entry);
            context.ResponseTrailers.Add(entry);
        }
        if (echoed.Count > 0)
        {
            await context.WriteResponseHeadersAsync(echoed);
        }
    }

    private static Task WaitAsync(EchoRequest request, ServerCallContext context) =>
        request.ReplyIntervalMs > 0 ? Task.Delay(request.ReplyIntervalMs, context.CancellationToken) : Task.CompletedTask;

    private static void FailIfAsked(EchoRequest request)
    {
        if (request.ThrowException)
        {
            throw new InvalidOperationException("secret internal detail");
        }
        if (request.FailWithCode != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailWithCode, request.FailWithMessage));
        }
    }

    private static EchoReply Reply(EchoRequest request, int index) => new()
    {
        Text = request.Text,
        Index = index,
        Payload = request.ReplyPayloadSize > 0 ? ByteString.CopyFrom(new byte[request.ReplyPayloadSize]) : request.Payload,
    };
}
