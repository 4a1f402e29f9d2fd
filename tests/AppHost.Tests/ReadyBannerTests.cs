using Microsoft.Extensions.Configuration;

namespace GptjAspire.AppHost.Tests;

/// <summary>What the AppHost prints once the Gateway is healthy.</summary>
public sealed class ReadyBannerTests
{
    [Fact]
    public void Banner_has_the_gateway_url_a_vietnamese_predict_curl_and_the_dashboard_login()
    {
        var text = ReadyBanner.Text("http://localhost:5000/", "http://localhost:15000/login?t=abc");

        Assert.Contains("Gateway ready at http://localhost:5000 ", text);
        Assert.Contains("""curl -s http://localhost:5000/predict -H 'Content-Type: application/json' -d '{"text": "Hà Nội là thủ đô của", "n_samples": 2}'""", text);
        Assert.Contains("Dashboard (traces, logs, metrics): http://localhost:15000/login?t=abc", text);
    }

    [Fact]
    public void Dashboard_login_url_is_the_first_dashboard_address_with_the_browser_token()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ASPNETCORE_URLS"] = "http://localhost:15000/;https://localhost:17000",
                ["AppHost:BrowserToken"] = "0123abcd",
            })
            .Build();

        Assert.Equal("http://localhost:15000/login?t=0123abcd", ReadyBanner.DashboardLoginUrl(configuration));
    }

    [Fact]
    public void Without_a_dashboard_there_is_no_dashboard_line()
    {
        Assert.Null(ReadyBanner.DashboardLoginUrl(new ConfigurationBuilder().Build()));
        Assert.DoesNotContain("Dashboard", ReadyBanner.Text("http://localhost:5000", null));
    }
}
