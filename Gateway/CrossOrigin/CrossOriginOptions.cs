using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.CrossOrigin;

/// <summary>Which web origins may call the API from a browser (CORS), bound from <c>Gateway:Cors</c>; none by default.</summary>
public sealed class CrossOriginOptions
{
    public const string Section = "Gateway:Cors";

    /// <summary>Origins as a browser sends them (<c>https://app.example.com</c>, <c>http://localhost:3000</c>), or the single entry <c>*</c> for any origin.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; set; } = [];

    /// <summary>Checks every origin at startup, so a typo stops the Gateway with the setting's name instead of silently blocking a site.</summary>
    public sealed class Validator : IValidateOptions<CrossOriginOptions>
    {
        public ValidateOptionsResult Validate(string? name, CrossOriginOptions options)
        {
            var origins = options.AllowedOrigins;
            if (origins.Contains("*") && origins.Count > 1)
                return ValidateOptionsResult.Fail($"{Section}:AllowedOrigins: '*' allows every origin and must be the only entry.");
            var failures = origins.Where(origin => origin != "*" && !IsOrigin(origin))
                .Select(origin => $"{Section}:AllowedOrigins: '{origin}' is not an origin (scheme://host[:port] with http or https, no path).")
                .ToList();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }

        // RFC 6454 §6.1: an origin serializes as scheme "://" host [":" port], nothing after it.
        static bool IsOrigin(string origin) =>
            Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && string.IsNullOrEmpty(uri.UserInfo)
            && uri.GetLeftPart(UriPartial.Authority).Equals(origin, StringComparison.OrdinalIgnoreCase);
    }
}
