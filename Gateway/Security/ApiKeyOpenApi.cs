using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace GptjAspire.Gateway.Security;

/// <summary>Describes the API key in the OpenAPI document when keys are configured: the three ways to send it as security
/// schemes, and on every operation that needs one, a requirement satisfied by any of them.</summary>
/// <remarks>With no key configured the API is open, and the document says so by requiring nothing.</remarks>
public static class ApiKeyOpenApi
{
    public const string BearerScheme = "bearer";

    static readonly (string Id, OpenApiSecurityScheme Scheme)[] Schemes =
    [
        (BearerScheme, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "Authorization: Bearer <key>, as OpenAI's clients send it.",
        }),
        (ApiKeyHeaders.ApiKey, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = ApiKeyHeaders.ApiKey,
            Description = "The key in an api-key header, as Azure OpenAI's clients send it.",
        }),
        (ApiKeyHeaders.XApiKey, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = ApiKeyHeaders.XApiKey,
            Description = "The key in an x-api-key header.",
        }),
    ];

    public static OpenApiOptions AddApiKeySecurity(this OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, context, _) =>
        {
            if (!context.ApplicationServices.GetRequiredService<ApiKeyRing>().Enabled)
                return Task.CompletedTask;
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            foreach (var (id, scheme) in Schemes)
                document.Components.SecuritySchemes[id] = scheme;
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            if (!context.ApplicationServices.GetRequiredService<ApiKeyRing>().Enabled || !RequiresKey(context.Description.ActionDescriptor.EndpointMetadata))
                return Task.CompletedTask;
            // One requirement per scheme: OpenAPI reads a list of requirements as "any one of them".
            operation.Security ??= [];
            foreach (var (id, _) in Schemes)
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(id, context.Document)] = [] });
            return Task.CompletedTask;
        });
        return options;
    }

    static bool RequiresKey(IList<object> metadata) =>
        metadata.OfType<IAuthorizeData>().Any(a => a.Policy == ApiKeyPolicy.Name)
        && !metadata.OfType<IAllowAnonymous>().Any();
}
