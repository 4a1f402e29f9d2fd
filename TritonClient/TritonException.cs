using Grpc.Core;

namespace GptjAspire.TritonClient;

/// <summary>A KServe call that failed: the gRPC status (code and server detail), the method and the model it was for.</summary>
/// <remarks>
/// Derives from <see cref="RpcException"/>, so code that handles transport errors handles these too. The status is
/// classified by meaning (<see cref="StatusNames.Classify"/>), so Triton's queue-full refusal reads as RESOURCE_EXHAUSTED on every path.
/// </remarks>
public sealed class TritonException(string method, string? model, Status status, Metadata? trailers = null)
    : RpcException(StatusNames.Classify(status), trailers ?? Metadata.Empty, Describe(method, model, StatusNames.Classify(status)))
{
    /// <summary>The KServe method, e.g. "ModelInfer".</summary>
    public string MethodName { get; } = method;

    /// <summary>The model the call was about, when it was about one.</summary>
    public string? ModelName { get; } = model;

    private static string Describe(string method, string? model, Status status) =>
        $"{method}{(model is null ? "" : $" for model '{model}'")} failed with {status.StatusCode}: {status.Detail}";
}
