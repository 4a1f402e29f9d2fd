using System.Net;
using System.Net.Sockets;

namespace GptjAspire.Testing;

/// <summary>Ports for the processes and hosts that tests and benchmarks start, so that runs side by side never collide.</summary>
internal static class LoopbackPorts
{
    /// <summary>A loopback port free at the moment of the call (the kernel's pick for port 0).</summary>
    public static int Free()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
