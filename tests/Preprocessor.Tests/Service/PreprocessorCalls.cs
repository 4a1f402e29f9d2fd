using GptjAspire.Gptj.V1;
using Google.Protobuf;
using Grpc.Core;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>Client calls of gptj.v1.Preprocessor for tests: the Preprocessor compiles only the server side of its .proto, so the methods are declared here.</summary>
internal sealed class PreprocessorCalls(CallInvoker invoker)
{
    static readonly Method<GenerateRequest, GenerateResponse> GenerateMethod = Unary("Generate", GenerateRequest.Parser, GenerateResponse.Parser);
    static readonly Method<GetModelInfoRequest, ModelInfo> GetModelInfoMethod = Unary("GetModelInfo", GetModelInfoRequest.Parser, ModelInfo.Parser);

    public AsyncUnaryCall<GenerateResponse> GenerateAsync(GenerateRequest request, DateTime? deadline = null) =>
        invoker.AsyncUnaryCall(GenerateMethod, null, new CallOptions(deadline: deadline), request);

    public AsyncUnaryCall<ModelInfo> GetModelInfoAsync(CancellationToken cancellationToken = default) =>
        invoker.AsyncUnaryCall(GetModelInfoMethod, null, new CallOptions(cancellationToken: cancellationToken), new GetModelInfoRequest());

    static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(MethodType.Unary, Gptj.V1.Preprocessor.Descriptor.FullName, name,
            Marshallers.Create(m => m.ToByteArray(), request.ParseFrom), Marshallers.Create(m => m.ToByteArray(), response.ParseFrom));
}
