using Grpc.Core;
using Grpc.Net.Client;
using GptjAspire.TritonClient.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GptjAspire.Benchmarks.Grpc;

/// <summary>The official .NET stack: Grpc.AspNetCore serving the generated KServe base class, Grpc.Net.Client calling it.</summary>
internal static class AspNetCoreStack
{
    public static Task ServeAsync() =>
        BenchServer.RunAsync(services => services.AddGrpc(), app => app.MapGrpcService<BenchInferenceService>());

    public static IBenchClient Connect(Uri address) => new Client(GrpcChannel.ForAddress(address));

    private sealed class BenchInferenceService : GRPCInferenceService.GRPCInferenceServiceBase
    {
        public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context) =>
            Task.FromResult(BenchMessages.Pong);

        public override async Task ModelStreamInfer(IAsyncStreamReader<ModelInferRequest> requestStream, IServerStreamWriter<ModelStreamInferResponse> responseStream, ServerCallContext context)
        {
            while (await requestStream.MoveNext(context.CancellationToken))
            {
                await BenchMessages.AnswerAsync(requestStream.Current, response => responseStream.WriteAsync(response, context.CancellationToken));
            }
        }
    }

    private sealed class Client(GrpcChannel channel) : IBenchClient
    {
        private readonly GRPCInferenceService.GRPCInferenceServiceClient _client = new(channel);

        public async Task PingAsync() => await _client.ModelReadyAsync(BenchMessages.Ping);

        public async Task<int> StreamAsync(int responses)
        {
            using var call = _client.ModelStreamInfer();
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
