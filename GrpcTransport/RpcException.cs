namespace GptjAspire.GrpcTransport;

/// <summary>A call that ended with a non-OK status, thrown on the client and throwable by server handlers.</summary>
public class RpcException : Exception
{
    public RpcException(Status status, Metadata? trailers = null)
        : base(status.ToString())
    {
        Status = status;
        Trailers = trailers ?? new Metadata();
    }

    public RpcException(Status status, string message, Metadata? trailers = null)
        : base(message)
    {
        Status = status;
        Trailers = trailers ?? new Metadata();
    }

    public Status Status { get; }

    public StatusCode StatusCode => Status.StatusCode;

    public Metadata Trailers { get; }
}
