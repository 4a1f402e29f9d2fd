using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using GptjAspire.Tests.Grpcio;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Protocol;
using GptjAspire.TritonClient.Tensors;

namespace GptjAspire.TritonClient.Tests.Interop;

/// <summary>Interop: TritonClient (Grpc.Net.Client) against a KServe server written with grpcio, a gRPC implementation nobody here wrote.</summary>
public sealed class GrpcioServerInteropTests(GrpcioKServeServer server) : IClassFixture<GrpcioKServeServer>
{
    private TritonInferenceClient Client => server.Client;

    [Fact]
    public async Task Large_tensors_travel_both_ways()
    {
        var values = Enumerable.Range(0, 2_000_000).ToArray(); // 8 MB, twice gRPC's 4 MiB default
        var request = new ModelInferRequest { ModelName = "echo", Id = "large" }.AddInput<int>("values", [1, values.Length], values);

        var response = await Client.InferAsync(request);

        Assert.Equal(values, response.GetOutput<int>("values").Data);
    }

    [Fact]
    public async Task Binary_metadata_travels_both_ways_byte_for_byte()
    {
        // Bytes that are not UTF-8 and include every value a base64 alphabet must carry.
        var sent = Enumerable.Range(0, 256).Select(i => (byte)(255 - i)).ToArray();
        using var channel = GrpcChannel.ForAddress(server.Address);
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var headers = new Metadata { { "gptj-probe-bin", sent } };

        using var call = client.ModelInferAsync(new ModelInferRequest { ModelName = "echo", Id = "bin" }, headers);
        await call.ResponseAsync;

        Assert.Equal(sent, call.GetTrailers().GetValueBytes("gptj-probe-bin"));
    }

    [Fact]
    public async Task Streamed_responses_arrive_in_order_up_to_the_final_one()
    {
        var request = new ModelInferRequest { ModelName = "stream", Id = "streamed" }.AddInput<int>(GenerationContract.RequestOutputLen, [1, 1], [50]);

        var tokens = new List<int>();
        await foreach (var response in Client.StreamInferAsync(request))
        {
            tokens.AddRange(response.GetOutput<int>(GenerationContract.OutputIds).Data);
        }

        Assert.Equal(Enumerable.Range(0, 50), tokens);
    }

    [Fact]
    public async Task Status_with_a_Vietnamese_message_and_a_binary_trailer_reach_the_caller()
    {
        var error = await Assert.ThrowsAsync<TritonException>(() => Client.InferAsync(new ModelInferRequest { ModelName = "missing", Id = "missing" }));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("Không tìm thấy mô hình 'missing'", error.Status.Detail);
        Assert.Equal(Encoding.UTF8.GetBytes("Không tìm thấy"), error.Trailers.GetValueBytes("gptj-detail-bin"));
    }

    [Fact]
    public async Task Deadline_ends_the_call_on_both_sides()
    {
        Assert.True(await Client.IsServerLiveAsync()); // the connection is up, so the call reaches the server well before its deadline
        var error = await Assert.ThrowsAsync<TritonException>(() =>
            Client.InferAsync(new ModelInferRequest { ModelName = "slow", Id = "deadline-1" }, DateTime.UtcNow.AddSeconds(2)));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        // The server saw the call end when the deadline passed, not after its 60 s wait.
        await server.WaitForServerToRecordAsync("ended:deadline-1");
    }

    [Fact]
    public async Task Cancelling_mid_stream_cancels_the_call_at_the_server()
    {
        using var cancel = new CancellationTokenSource();
        var received = 0;

        var error = await Record.ExceptionAsync(async () =>
        {
            await foreach (var _ in Client.StreamInferAsync(new ModelInferRequest { ModelName = "endless", Id = "cancel-1" }, cancellationToken: cancel.Token))
            {
                if (++received == 3)
                {
                    await cancel.CancelAsync();
                }
            }
        });

        // The caller's own cancellation, as from any other await it makes: not a backend failure to report.
        Assert.IsAssignableFrom<OperationCanceledException>(error);
        await server.WaitForServerToRecordAsync("cancelled:cancel-1");
    }
}
