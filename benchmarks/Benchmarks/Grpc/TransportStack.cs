using GptjAspire.GrpcTransport;
using GptjAspire.TritonClient.Protocol;
using M = GptjAspire.TritonClient.Protocol.InferenceServiceMethods;

namespace GptjAspire.Benchmarks.Grpc;

/// <summary>The project's own GrpcTransport, client and server.</summary>
internal static class TransportStack
{
    public static Task ServeAsync() => BenchServer.RunAsync(
        services => services.AddGrpcTransport(),
        app => app.MapGrpcService<BenchInferenceService>(binder =>
        {
            binder.AddUnaryMethod(M.ModelReady, (_, _, _) => Task.FromResult(BenchMessages.Pong));
            binder.AddDuplexStreamingMethod(M.ModelStreamInfer, (service, requests, responses, context) => service.StreamAsync(requests, responses, context));
        }));

    public static IBenchClient Connect(Uri address) => new Client(GrpcChannel.ForAddress(address));

    private sealed class BenchInferenceService
    {
        public async Task StreamAsync(IAsyncStreamReader<ModelInferRequest> requests, IServerStreamWriter<ModelStreamInferResponse> responses, ServerCallContext context)
        {
            while (await requests.MoveNext(context.CancellationToken))
            {
                await BenchMessages.AnswerAsync(requests.Current, response => responses.WriteAsync(response, context.CancellationToken));
            }
        }
    }

    private sealed class Client(GrpcChannel channel) : IBenchClient
    {
        public async Task PingAsync() => await channel.AsyncUnaryCall(M.ModelReady, BenchMessages.Ping);

        public async Task<int> StreamAsync(int responses)
        {
            using var call = channel.AsyncDuplexStreamingCall(M.ModelStreamInfer);
            await call.RequestStream.WriteAsync(BenchMessages.StreamRequest(responses));
            var received = 0;
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                received++;
                if (BenchMessages.IsFinal(call.ResponseStream.Current))
                {
                    break;
                }
            }
            await call.RequestStream.CompleteAsync();
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
            }
            return received;
        }

        public void Dispose() => channel.Dispose();
    }
}
