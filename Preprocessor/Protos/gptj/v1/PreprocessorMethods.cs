using GptjAspire.GrpcTransport;

namespace GptjAspire.Gptj.V1;

/// <summary>The gRPC method descriptors of <c>gptj.v1.Preprocessor</c>, compiled into its server and its clients (what a gRPC code generator would emit).</summary>
public static class PreprocessorMethods
{
    public const string ServiceName = "gptj.v1.Preprocessor";

    public static readonly Method<GenerateRequest, GenerateResponse> Generate =
        new(MethodType.Unary, ServiceName, "Generate", GenerateRequest.Parser, GenerateResponse.Parser);

    public static readonly Method<GenerateRequest, GenerateStreamResponse> GenerateStream =
        new(MethodType.ServerStreaming, ServiceName, "GenerateStream", GenerateRequest.Parser, GenerateStreamResponse.Parser);

    public static readonly Method<TokenizeRequest, TokenizeResponse> Tokenize =
        new(MethodType.Unary, ServiceName, "Tokenize", TokenizeRequest.Parser, TokenizeResponse.Parser);

    public static readonly Method<DetokenizeRequest, DetokenizeResponse> Detokenize =
        new(MethodType.Unary, ServiceName, "Detokenize", DetokenizeRequest.Parser, DetokenizeResponse.Parser);

    public static readonly Method<GetModelInfoRequest, ModelInfo> GetModelInfo =
        new(MethodType.Unary, ServiceName, "GetModelInfo", GetModelInfoRequest.Parser, ModelInfo.Parser);
}
