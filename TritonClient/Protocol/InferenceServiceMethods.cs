using GptjAspire.GrpcTransport;

namespace GptjAspire.TritonClient.Protocol;

/// <summary>The <c>inference.GRPCInferenceService</c> methods GptjAspire calls and serves, for the client channel and the server binder.</summary>
public static class InferenceServiceMethods
{
    public const string ServiceName = "inference.GRPCInferenceService";

    public static readonly Method<ServerLiveRequest, ServerLiveResponse> ServerLive =
        new(MethodType.Unary, ServiceName, "ServerLive", ServerLiveRequest.Parser, ServerLiveResponse.Parser);

    public static readonly Method<ServerReadyRequest, ServerReadyResponse> ServerReady =
        new(MethodType.Unary, ServiceName, "ServerReady", ServerReadyRequest.Parser, ServerReadyResponse.Parser);

    public static readonly Method<ModelReadyRequest, ModelReadyResponse> ModelReady =
        new(MethodType.Unary, ServiceName, "ModelReady", ModelReadyRequest.Parser, ModelReadyResponse.Parser);

    public static readonly Method<ServerMetadataRequest, ServerMetadataResponse> ServerMetadata =
        new(MethodType.Unary, ServiceName, "ServerMetadata", ServerMetadataRequest.Parser, ServerMetadataResponse.Parser);

    public static readonly Method<ModelMetadataRequest, ModelMetadataResponse> ModelMetadata =
        new(MethodType.Unary, ServiceName, "ModelMetadata", ModelMetadataRequest.Parser, ModelMetadataResponse.Parser);

    public static readonly Method<ModelConfigRequest, ModelConfigResponse> ModelConfig =
        new(MethodType.Unary, ServiceName, "ModelConfig", ModelConfigRequest.Parser, ModelConfigResponse.Parser);

    public static readonly Method<RepositoryIndexRequest, RepositoryIndexResponse> RepositoryIndex =
        new(MethodType.Unary, ServiceName, "RepositoryIndex", RepositoryIndexRequest.Parser, RepositoryIndexResponse.Parser);

    public static readonly Method<ModelInferRequest, ModelInferResponse> ModelInfer =
        new(MethodType.Unary, ServiceName, "ModelInfer", ModelInferRequest.Parser, ModelInferResponse.Parser);

    public static readonly Method<ModelInferRequest, ModelStreamInferResponse> ModelStreamInfer =
        new(MethodType.DuplexStreaming, ServiceName, "ModelStreamInfer", ModelInferRequest.Parser, ModelStreamInferResponse.Parser);
}
