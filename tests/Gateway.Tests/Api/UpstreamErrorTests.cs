using System.Diagnostics;
using System.Net;
using GptjAspire.GrpcTransport;
using static GptjAspire.Gateway.Tests.Api.Http;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>Failures behind the Gateway reach the client as a stable message and code; what they said (hosts, ports, exception types) stays in the log and the trace.</summary>
public sealed class UpstreamErrorTests
{
    const string Internals = "HttpRequestException: Connection refused (127.0.0.1:18501)";

    [Theory]
    [InlineData(StatusCode.Unavailable, "unavailable", "The model is not available right now; retry later.")]
    [InlineData(StatusCode.ResourceExhausted, "overloaded", "The server is busy; retry later.")]
    [InlineData(StatusCode.DeadlineExceeded, "timeout", "The generation did not finish within its deadline.")]
    [InlineData(StatusCode.Internal, "upstream_error", "The model service failed to answer this request.")]
    [InlineData(StatusCode.Unknown, "upstream_error", "The model service failed to answer this request.")]
    public async Task Upstream_failure_is_a_stable_message_without_the_upstream_text(StatusCode status, string code, string message)
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Failure = new RpcException(new Status(status, Internals));
        host.Preprocessor.Stream = _ => []; // the streamed request fails before its first event: a plain HTTP error

        foreach (var (path, body) in new[] { ("/predict", """{"text": "a"}"""), ("/v1/completions", """{"prompt": "a"}"""), ("/v1/completions", """{"prompt": "a", "stream": true}""") })
        {
            using var response = await host.Client.PostAsync(path, Json(body));

            var text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("127.0.0.1", text);
            Assert.DoesNotContain("Exception", text);
            var error = (await response.ReadJsonAsync()).GetProperty("error");
            Assert.Equal((code, message), (error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));
        }
    }

    [Fact]
    public async Task Upstream_text_is_the_error_status_of_the_request_span()
    {
        var failed = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.StatusDescription?.Contains("probe-7f3a", StringComparison.Ordinal) == true)
                    lock (failed)
                        failed.Add(activity);
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Failure = new RpcException(new Status(StatusCode.Unavailable, Internals + " probe-7f3a"));

        using var response = await host.Client.PostAsync("/predict", Json("""{"text": "a"}"""));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var span = Assert.Single(failed);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Contains(Internals, span.StatusDescription);
        Assert.Equal("Unavailable", span.GetTagItem("error.type"));
    }

    [Fact]
    public async Task Failure_after_the_stream_started_is_an_error_event_without_the_upstream_text()
    {
        await using var host = await GatewayHost.StartAsync();
        host.Preprocessor.Stream = _ => [new Gptj.V1.GenerateStreamResponse { Delta = new Gptj.V1.TextDelta { Index = 0, Text = "Hà" } }];
        host.Preprocessor.Failure = new RpcException(new Status(StatusCode.Unavailable, Internals));

        using var response = await host.Client.PostAsync("/v1/completions", Json("""{"prompt": "a", "stream": true}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (name, data) = ParseEvents(await response.Content.ReadAsStringAsync()).Last();
        Assert.Equal("error", name);
        Assert.DoesNotContain("127.0.0.1", data);
        Assert.Contains("The model is not available right now; retry later.", data);
    }
}
