using System.Security.Claims;
using System.Text.Encodings.Web;
using GptjAspire.Gateway.Errors;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Security;

/// <summary>The <c>ApiKey</c> authentication scheme: a request is its key's caller (<c>key-N</c>), or, with no keys configured, its client address's.</summary>
public sealed class ApiKeyAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory loggerFactory, UrlEncoder encoder, ApiKeyRing keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";

    /// <summary>Claim naming whom rate limits are counted against; never the key itself.</summary>
    public const string CallerClaim = "gptj:caller";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!keys.Enabled)
            return Task.FromResult(Success($"ip:{Context.Connection.RemoteIpAddress}"));
        var presented = ApiKeyHeaders.Find(Request);
        if (presented is null)
            return Task.FromResult(AuthenticateResult.NoResult());
        var caller = keys.Identify(presented);
        return Task.FromResult(caller is null ? AuthenticateResult.Fail("The API key matches none configured.") : Success(caller));
    }

    AuthenticateResult Success(string caller) =>
        AuthenticateResult.Success(new AuthenticationTicket(
            new ClaimsPrincipal(new ClaimsIdentity([new Claim(CallerClaim, caller)], SchemeName)), SchemeName));

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        // RFC 6750 §3: a 401 for a bearer-protected resource names the scheme.
        Response.Headers.WWWAuthenticate = "Bearer";
        var error = new ApiException(ApiErrorKind.InvalidApiKey,
            "Missing or invalid API key. Send it as 'Authorization: Bearer <key>' (or in an 'api-key' or 'x-api-key' header).");
        ApiErrorLog.Record(Logger, Request, error);
        return error.ToResult().ExecuteAsync(Context);
    }
}
