namespace GptjAspire.GrpcTransport;

/// <summary>Per-call settings: request metadata, an absolute UTC deadline, and a token that cancels the call.</summary>
public readonly record struct CallOptions(Metadata? Headers = null, DateTime? Deadline = null, CancellationToken CancellationToken = default);
