using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace GptjAspire.AppHost;

/// <summary>What the AppHost prints on its console once the Gateway is healthy: where to send a request and where to watch it.</summary>
public static class ReadyBanner
{
    public static IResourceBuilder<ProjectResource> WithReadyBanner(this IResourceBuilder<ProjectResource> gateway)
    {
        var configuration = gateway.ApplicationBuilder.Configuration;
        var endpoint = gateway.GetEndpoint("http");
        return gateway.OnResourceReady((_, _, _) =>
        {
            Console.Out.Write(Text(endpoint.Url, DashboardLoginUrl(configuration)));
            return Task.CompletedTask;
        });
    }

    /// <summary>The banner for a Gateway at <paramref name="gatewayUrl"/>; the dashboard line only when the dashboard runs.</summary>
    public static string Text(string gatewayUrl, string? dashboardLoginUrl)
    {
        var url = gatewayUrl.TrimEnd('/');
        var text = new System.Text.StringBuilder()
            .AppendLine()
            .AppendLine($"Gateway ready at {url}   (OpenAPI: {url}/openapi/v1.json; Ctrl+C stops everything)")
            .AppendLine("Try:")
            .AppendLine($$"""  curl -s {{url}}/predict -H 'Content-Type: application/json' -d '{"text": "Hà Nội là thủ đô của", "n_samples": 2}'""");
        if (dashboardLoginUrl is not null)
        {
            text.AppendLine($"Dashboard (traces, logs, metrics): {dashboardLoginUrl}");
        }

        return text.AppendLine().ToString();
    }

    /// <summary>
    /// The dashboard's address with its one-time login token, as Aspire itself logs it: the first of the AppHost's
    /// ASPNETCORE_URLS plus <c>/login?t=</c> and the browser token Aspire puts in <c>AppHost:BrowserToken</c>.
    /// </summary>
    public static string? DashboardLoginUrl(IConfiguration configuration)
    {
        var first = configuration["ASPNETCORE_URLS"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (first is null || !Uri.TryCreate(first, UriKind.Absolute, out var dashboard))
        {
            return null;
        }

        var token = configuration["AppHost:BrowserToken"];
        var root = dashboard.GetLeftPart(UriPartial.Authority);
        return string.IsNullOrEmpty(token) ? root : $"{root}/login?t={token}";
    }
}
