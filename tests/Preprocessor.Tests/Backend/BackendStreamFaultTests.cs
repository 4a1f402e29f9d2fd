using Grpc.Core;
using GptjAspire.Preprocessor.Backend;
using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace GptjAspire.Preprocessor.Tests.Backend;

/// <summary>How <see cref="BackendModel"/> reports a Triton-like backend's per-request faults: by meaning, without changing backend state.</summary>
public sealed class BackendStreamFaultTests : IAsyncLifetime
{
    private ScriptedKServe _server = null!;
    private TritonInferenceClient _client = null!;
    private BackendModel _backend = null!;

    public async Task InitializeAsync()
    {
        _server = await ScriptedKServe.StartAsync();
        _client = TritonInferenceClient.ForAddress(_server.Address);
        _backend = new BackendModel(_client, ScriptedKServe.ModelName, NullLogger<BackendModel>.Instance);
        var state = await _backend.RefreshAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.True(state.Ready, state.Detail);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Theory]
    [InlineData(StreamAnswer.QueueFull)]
    [InlineData(StreamAnswer.QueueFullStatus)]
    public async Task Triton_queue_full_text_is_resource_exhausted_and_the_backend_stays_ready(StreamAnswer refusal)
    {
        _server.Script(refusal);

        var error = await Assert.ThrowsAnyAsync<RpcException>(() => CollectAsync());

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains(StatusNames.TritonQueueFullText, error.Status.Detail);
        Assert.True(_backend.State.Ready, _backend.State.Detail);
        Assert.Single(await CollectAsync());
    }

    [Fact]
    public async Task A_stream_that_ends_before_its_final_response_fails_that_request_only()
    {
        _server.Script(StreamAnswer.EndEarly);

        var error = await Assert.ThrowsAnyAsync<RpcException>(() => CollectAsync());

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Equal(TritonInferenceStream.EndedEarlyMessage, error.Status.Detail);
        Assert.True(_backend.State.Ready, _backend.State.Detail);
        _backend.RequireReady();
        Assert.Single(await CollectAsync());
    }

    [Fact]
    public async Task A_response_naming_another_request_fails_this_one_at_once_and_the_backend_stays_ready()
    {
        _server.Script(StreamAnswer.ForeignId);

        var error = await Assert.ThrowsAnyAsync<RpcException>(() => CollectAsync()).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Matches("^The backend answered a request 'not-[0-9a-f]{32}' on the call of request '[0-9a-f]{32}', which carried no other.$", error.Status.Detail);
        await _server.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(_backend.State.Ready, _backend.State.Detail);
        Assert.Single(await CollectAsync());
    }

    [Fact]
    public async Task A_finished_request_whose_status_never_comes_is_answered_and_its_call_released_soon_after()
    {
        _server.Script(StreamAnswer.CompleteThenHang);

        // Answered from its final response, without the status (which never comes)...
        Assert.Single(await CollectAsync());

        // ...and the call, which would otherwise hold an HTTP/2 stream for ever (no deadline here), is cancelled after a
        // short wait for that status.
        await _server.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Single(await CollectAsync());
    }

    private async Task<List<ModelInferResponse>> CollectAsync()
    {
        var responses = new List<ModelInferResponse>();
        var request = new ModelInferRequest { ModelName = ScriptedKServe.ModelName };
        await foreach (var response in _backend.StreamInferAsync(request, DateTime.MaxValue, CancellationToken.None))
            responses.Add(response);
        return responses;
    }
}
