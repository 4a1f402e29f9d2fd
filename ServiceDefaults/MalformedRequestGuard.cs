using Google.Protobuf;
using Grpc.Core;

namespace GptjAspire.ServiceDefaults;

/// <summary>
/// Binds a generated gRPC service so that a request message that does not parse (truncated, not protobuf at all, a string
/// field that is not UTF-8) is answered with the status <paramref name="invalid"/> builds from a message naming the method
/// and the parser's complaint.
/// </summary>
/// <remarks>
/// Grpc.AspNetCore deserializes a request before any interceptor runs and answers whatever its deserializer throws with
/// UNKNOWN "Exception was thrown by handler.", logging it as an error with its stack trace: for a client's bad bytes, that
/// is the wrong code and a log line per hostile request. The request marshaller is the one place to catch it. (grpc-go and
/// grpc-java answer INTERNAL here; it is the client's input that is wrong, so these services say INVALID_ARGUMENT.)
/// A service opts in through its own <see cref="BindServiceMethodAttribute"/>, whose method passes this binder to the
/// generated <c>BindService</c>; that type also exposes the generated <c>Descriptor</c>, which server reflection reads.
/// </remarks>
public sealed class MalformedRequestGuard(ServiceBinderBase binder, Func<string, RpcException> invalid) : ServiceBinderBase
{
    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
        binder.AddMethod(Guarded(method), handler);

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
        binder.AddMethod(Guarded(method), handler);

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
        binder.AddMethod(Guarded(method), handler);

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
        binder.AddMethod(Guarded(method), handler);

    Method<TRequest, TResponse> Guarded<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class where TResponse : class
    {
        var parse = method.RequestMarshaller.ContextualDeserializer;
        var request = new Marshaller<TRequest>(method.RequestMarshaller.ContextualSerializer, context =>
        {
            try
            {
                return parse(context);
            }
            catch (InvalidProtocolBufferException error)
            {
                throw invalid($"The request to {method.FullName} is not a valid {typeof(TRequest).Name} message: {error.Message}");
            }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, request, method.ResponseMarshaller);
    }
}
