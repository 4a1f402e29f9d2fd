using System.Net;
using IPNetwork = System.Net.IPNetwork;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Security;

/// <summary>The proxies in front of the Gateway whose <c>X-Forwarded-For</c> names the client, bound from
/// <c>Gateway:TrustedProxies</c> (addresses or CIDR networks: <c>Gateway__TrustedProxies__0=10.0.0.0/8</c>). Without keys every
/// caller is its client address; behind an Ingress that address is the Ingress's, so all clients would share one
/// caller's limits. None listed: the header is ignored, since a client could write any address in it.</summary>
public sealed class TrustedProxyOptions
{
    public const string Section = "Gateway";

    public IReadOnlyList<string> TrustedProxies { get; set; } = [];

    public IEnumerable<IPNetwork> Networks() => TrustedProxies.Select(entry => Parse(entry) ?? throw new FormatException(entry));

    static IPNetwork? Parse(string entry) =>
        IPAddress.TryParse(entry, out var address) ? new IPNetwork(address, address.GetAddressBytes().Length * 8)
        : IPNetwork.TryParse(entry, out var network) ? network
        : null;

    /// <summary>Stops the Gateway at startup, naming the entry, when one is neither an address nor a network.</summary>
    public sealed class Validator : IValidateOptions<TrustedProxyOptions>
    {
        public ValidateOptionsResult Validate(string? name, TrustedProxyOptions options) =>
            options.TrustedProxies.Select((entry, i) => (entry, i)).FirstOrDefault(e => Parse(e.entry) is null) is ({ } bad, var index)
                ? ValidateOptionsResult.Fail($"{Section}:TrustedProxies:{index}: '{bad}' is neither an IP address nor a network in CIDR notation (10.0.0.0/8).")
                : ValidateOptionsResult.Success;
    }
}

/// <summary>Takes the client's address from <c>X-Forwarded-For</c> when the request came through the trusted proxies.</summary>
public static class TrustedProxyPolicy
{
    public static IServiceCollection AddTrustedProxies(this IServiceCollection services)
    {
        services.AddOptions<TrustedProxyOptions>().BindConfiguration(TrustedProxyOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TrustedProxyOptions>, TrustedProxyOptions.Validator>();
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<TrustedProxyOptions>>((forwarded, trusted) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            // Read from the right while the hop is trusted: the first address that is not a trusted proxy is the client,
            // whatever a client wrote further left.
            forwarded.ForwardLimit = null;
            forwarded.KnownIPNetworks.Clear();
            forwarded.KnownProxies.Clear();
            foreach (var network in trusted.Value.Networks())
                forwarded.KnownIPNetworks.Add(network);
        });
        return services;
    }

    /// <summary>Applies <c>X-Forwarded-For</c> before anything reads the client's address, when proxies are trusted.</summary>
    public static WebApplication UseTrustedProxies(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<TrustedProxyOptions>>().Value.TrustedProxies.Count > 0)
            app.UseForwardedHeaders();
        return app;
    }
}
