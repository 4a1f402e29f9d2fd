using Microsoft.Extensions.Configuration;

namespace GptjAspire.AppHost;

/// <summary>The port of the Gateway's public endpoint on this machine, from configuration key <c>Gateway:Port</c>.</summary>
public static class PublicEndpoint
{
    public const string PortKey = "Gateway:Port";

    /// <summary>The configured port (appsettings.json: 5000, where the original service listened), or null to let Aspire pick a free one.</summary>
    public static int? GatewayPort(IConfiguration configuration) => configuration[PortKey] switch
    {
        null or "" => null,
        var text when int.TryParse(text, out var port) && port is > 0 and <= 65535 => port,
        var other => throw new InvalidOperationException(
            $"Configuration '{PortKey}' is '{other}'; use a TCP port from 1 to 65535, or leave it empty for a free port."),
    };
}
