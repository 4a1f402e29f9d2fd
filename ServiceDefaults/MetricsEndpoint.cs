using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace GptjAspire.ServiceDefaults;

/// <summary>
/// The Prometheus scrape endpoint, <c>/metrics</c>: every meter ServiceDefaults exports over OTLP, in Prometheus text.
/// With a Kestrel endpoint named <c>management</c> (<c>Kestrel__Endpoints__management__Url</c>) it answers only on that
/// endpoint's port and is a 404 on the others, so a public port (the Gateway's) need not show it.
/// </summary>
public static class MetricsEndpoint
{
    public const string Path = "/metrics";

    /// <summary>Configuration key of the management endpoint's URL: the one way a service is told where to listen.</summary>
    public const string ManagementUrlKey = "Kestrel:Endpoints:management:Url";

    /// <summary>Maps <see cref="Path"/>; on a service with a management endpoint, only for connections to its port.</summary>
    public static WebApplication MapMetrics(this WebApplication app)
    {
        var managementPort = ManagementPort(app.Configuration);
        app.MapPrometheusScrapingEndpoint(Path, meterProvider: null, configureBranchedPipeline: branch =>
        {
            if (managementPort is not { } port)
                return;
            branch.Use((context, next) =>
            {
                if (context.Connection.LocalPort == port)
                    return next(context);
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
        }, optionsName: null);
        return app;
    }

    /// <summary>The management endpoint's port, or null without one; a URL without a fixed port stops the service at startup.</summary>
    public static int? ManagementPort(IConfiguration configuration)
    {
        if (configuration[ManagementUrlKey] is not { Length: > 0 } url)
            return null;
        int port;
        try
        {
            port = BindingAddress.Parse(url).Port;
        }
        catch (FormatException e)
        {
            throw new InvalidOperationException($"Configuration '{ManagementUrlKey}' is '{url}', not a URL such as http://*:9090.", e);
        }
        // Port 0 would be chosen by the system at bind time, and /metrics could not tell its connections from the others'.
        if (port is <= 0 or > 65535)
            throw new InvalidOperationException($"Configuration '{ManagementUrlKey}' is '{url}'; give it a fixed port (1 to 65535), such as http://*:9090.");
        return port;
    }
}
