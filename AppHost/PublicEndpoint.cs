using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;

namespace GptjAspire.AppHost;

/// <summary>The port of the Gateway's public endpoint on this machine, from configuration key <c>Gateway:Port</c>.</summary>
public static class PublicEndpoint
{
    public const string PortKey = "Gateway:Port";

    /// <summary>What is wrong with the Gateway's port setting for this AppHost, or null: <see cref="GatewayPort(IDistributedApplicationBuilder)"/>'s refusal.</summary>
    public static string? Problem(IDistributedApplicationBuilder builder)
    {
        try
        {
            GatewayPort(builder);
            return null;
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    /// <summary>The configured port, checked free when the AppHost runs the application (publishing binds nothing).</summary>
    public static int? GatewayPort(IDistributedApplicationBuilder builder)
    {
        var port = GatewayPort(builder.Configuration);
        if (port is { } fixedPort && builder.ExecutionContext.IsRunMode)
            ThrowIfInUse(fixedPort);
        return port;
    }

    /// <summary>The configured port (appsettings.json: 5000, where the original service listened), or null to let Aspire pick a free one.</summary>
    public static int? GatewayPort(IConfiguration configuration) => configuration[PortKey] switch
    {
        null or "" => null,
        var text when int.TryParse(text, out var port) && port is > 0 and <= 65535 => port,
        var other => throw new InvalidOperationException(
            $"Configuration '{PortKey}' is '{other}'; use a TCP port from 1 to 65535, or leave it empty for a free port."),
    };

    /// <summary>Throws, naming the port and the way out, when another process already listens on it.</summary>
    /// <remarks>The orchestrator's proxy would fail to bind it, and the AppHost would wait for a Gateway nobody can reach
    /// without a word on its console (tried: a listener on 5000, then a minute of silence after "Distributed application
    /// started").</remarks>
    public static void ThrowIfInUse(int port)
    {
        try
        {
            var probe = new TcpListener(IPAddress.Loopback, port);
            probe.Start();
            probe.Stop();
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            throw new InvalidOperationException(
                $"The Gateway's port {port} cannot be bound on this machine ({e.SocketErrorCode}: another process listens there, or the port is reserved). " +
                $"Stop that process, or start the AppHost with another port: dotnet run --project AppHost -- --{PortKey} 8080 (empty for a free port).", e);
        }
    }
}
