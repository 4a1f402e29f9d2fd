namespace GptjAspire.Benchmarks.Grpc;

/// <summary>The calls the `grpc` suite times, made by one stack's client against the same stack's server.</summary>
internal interface IBenchClient : IDisposable
{
    /// <summary>One unary ModelReady call.</summary>
    Task PingAsync();

    /// <summary>One ModelStreamInfer call: one request, <paramref name="responses"/> responses read to the final one, then half-close and the server's trailers.</summary>
    Task<int> StreamAsync(int responses);
}
