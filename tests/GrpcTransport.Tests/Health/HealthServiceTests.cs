using GptjAspire.GrpcTransport.Health;
using GptjAspire.GrpcTransport.Health.V1;
using GptjAspire.GrpcTransport.Tests.TestService;
using Microsoft.Extensions.DependencyInjection;
using ServingStatus = GptjAspire.GrpcTransport.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace GptjAspire.GrpcTransport.Tests.Health;

public sealed class HealthServiceTests : IAsyncLifetime
{
    private TestHost _host = null!;
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _host = await TestHost.StartAsync();
        _channel = _host.CreateChannel();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _host.DisposeAsync();
    }

    private GrpcHealthStatus Health => _host.Services.GetRequiredService<GrpcHealthStatus>();

    [Fact]
    public async Task Whole_server_is_serving_from_the_start()
    {
        var response = await _channel.AsyncUnaryCall(HealthService.CheckMethod, new HealthCheckRequest());
        Assert.Equal(ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task Check_reports_the_status_set_for_a_service()
    {
        Health.SetStatus("gptj.v1.Preprocessor", ServingStatus.NotServing);
        var response = await _channel.AsyncUnaryCall(HealthService.CheckMethod, new HealthCheckRequest { Service = "gptj.v1.Preprocessor" });
        Assert.Equal(ServingStatus.NotServing, response.Status);
    }

    [Fact]
    public async Task Check_of_an_unknown_service_is_not_found()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await _channel.AsyncUnaryCall(HealthService.CheckMethod, new HealthCheckRequest { Service = "nope" }));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task Watch_sends_the_current_status_then_each_change()
    {
        using var call = _channel.AsyncServerStreamingCall(HealthService.WatchMethod, new HealthCheckRequest { Service = "backend" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(ServingStatus.ServiceUnknown, call.ResponseStream.Current.Status);

        Health.SetStatus("backend", ServingStatus.Serving);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(ServingStatus.Serving, call.ResponseStream.Current.Status);

        Health.SetStatus("backend", ServingStatus.NotServing);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(ServingStatus.NotServing, call.ResponseStream.Current.Status);
    }
}
