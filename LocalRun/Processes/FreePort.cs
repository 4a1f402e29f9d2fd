using System.Net;
using System.Net.Sockets;

namespace GptjAspire.LocalRun.Processes;

/// <summary>Asks the OS for a loopback TCP port nobody listens on (bind to port 0, read it back, release it).</summary>
public static class FreePort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
