using Microsoft.AspNetCore.OpenApi;

namespace GptjAspire.Gateway.Security;

/// <summary>Leaves the OpenAPI document without servers, so that a reader resolves its paths against the document's own URL.</summary>
/// <remarks>ASP.NET Core fills <c>servers</c> from the request's Host header, which any client sets: a request with
/// <c>Host: evil.example</c> got a document that sends its readers there, and a cache in front of the Gateway would serve
/// it to everyone. Behind an ingress the request's host is not the public one anyway.</remarks>
public static class OpenApiServers
{
    public static OpenApiOptions WithoutRequestServers(this OpenApiOptions options) =>
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Servers?.Clear();
            return Task.CompletedTask;
        });
}
