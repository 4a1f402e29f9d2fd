using System.Net;
using System.Net.Sockets;
using GptjAspire.Testing;
using Microsoft.Extensions.Configuration;

namespace GptjAspire.AppHost.Tests;

/// <summary>The Gateway's public port: 5000 from the AppHost's appsettings.json unless configured otherwise.</summary>
public sealed class PublicEndpointTests
{
    private static IConfiguration Configuration(string? port) => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { [PublicEndpoint.PortKey] = port })
        .Build();

    [Fact]
    public void The_AppHost_settings_put_the_gateway_on_port_5000()
    {
        var settings = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Projects.AppHost.ProjectPath, "appsettings.json"))
            .Build();

        Assert.Equal(5000, PublicEndpoint.GatewayPort(settings));
    }

    [Theory]
    [InlineData("8080", 8080)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void A_setting_moves_the_port_or_leaves_it_to_Aspire(string? configured, int? expected)
    {
        Assert.Equal(expected, PublicEndpoint.GatewayPort(Configuration(configured)));
    }

    [Fact]
    public void A_port_another_process_listens_on_is_an_error_that_names_it_and_the_way_out()
    {
        var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start();
        try
        {
            var port = ((IPEndPoint)other.LocalEndpoint).Port;

            var error = Assert.Throws<InvalidOperationException>(() => PublicEndpoint.ThrowIfInUse(port));

            Assert.Contains($"The Gateway's port {port} cannot be bound", error.Message);
            Assert.Contains("--Gateway:Port", error.Message);
        }
        finally
        {
            other.Stop();
        }
    }

    [Fact]
    public void A_free_port_passes_the_check()
    {
        PublicEndpoint.ThrowIfInUse(LoopbackPorts.Free());
    }

    [Theory]
    [InlineData("http")]
    [InlineData("0")]
    [InlineData("70000")]
    public void A_port_that_is_not_one_is_an_error_that_names_the_setting(string configured)
    {
        var error = Assert.Throws<InvalidOperationException>(() => PublicEndpoint.GatewayPort(Configuration(configured)));

        Assert.Contains($"'Gateway:Port' is '{configured}'", error.Message);
    }
}
