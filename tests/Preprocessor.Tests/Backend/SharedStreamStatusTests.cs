using GptjAspire.TritonClient;
using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.Preprocessor.Tests.Backend;

/// <summary>A shared stream (<see cref="TritonInferenceClient.OpenStream"/>) against a server that never ends a finished call.</summary>
public sealed class SharedStreamStatusTests
{
    [Fact]
    public async Task A_stream_whose_requests_are_answered_is_disposed_at_once_and_its_call_cancelled_when_no_status_comes()
    {
        await using var server = await ScriptedKServe.StartAsync();
        using var client = TritonInferenceClient.ForAddress(server.Address);
        server.Script(StreamAnswer.CompleteThenHang);

        var stream = client.OpenStream();
        var responses = 0;
        await foreach (var _ in stream.InferAsync(new ModelInferRequest { ModelName = ScriptedKServe.ModelName }))
            responses++;
        await stream.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, responses);
        await server.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }
}
