extern alias gateway;
using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Tests.Backend;
using GptjAspire.TritonClient.Generation;
using GptjAspire.TritonClient.Tensors;
using FinishReason = gateway::GptjAspire.Gptj.V1.FinishReason;
using GenerateRequest = gateway::GptjAspire.Gptj.V1.GenerateRequest;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>A stop sequence ends generation at the backend for whole requests too: stop_words_list goes out, and the Preprocessor reads
/// the result as a token stream and cancels it once the text stopped, instead of waiting for the backend's final response.</summary>
public sealed class StopAtBackendTests
{
    static readonly int[] Text = TinyModel.Tokenizer.Encode("ab.");

    [Fact]
    public async Task Whole_request_with_a_stop_streams_from_the_backend_and_cancels_it_at_the_stop()
    {
        await using var host = await PreprocessorHost.StartAsync(backend => backend.Generated = Text);
        host.Backend.Script(StreamAnswer.GenerateThenHang);
        var request = new GenerateRequest { Prompt = "xyz", Stop = { "." } };

        // The backend holds its final response back: only a Preprocessor that stops reading at the stop answers before the deadline.
        var response = await host.Client.GenerateAsync(request, deadline: DateTime.UtcNow.AddSeconds(60));

        var completion = Assert.Single(response.Completions);
        Assert.Equal(("ab", FinishReason.Stop), (completion.Text, completion.FinishReason));
        await host.Backend.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var sent = Assert.Single(host.Backend.Received);
        Assert.Equal([true], sent.GetInput<bool>(GenerationContract.Streaming).Data);
        var words = sent.GetInput<int>(GenerationContract.StopWordsList);
        Assert.Equal(GenerationTensors.WordList([TinyModel.Tokenizer.Encode(".")]), words.Data);
    }

    [Fact]
    public async Task Whole_request_without_stops_asks_for_the_whole_output_and_sends_no_word_list()
    {
        await using var host = await PreprocessorHost.StartAsync();

        await host.Client.GenerateAsync(new GenerateRequest { Prompt = "xyz", MaxNewTokens = 3 }, deadline: DateTime.UtcNow.AddSeconds(60));

        var sent = Assert.Single(host.Backend.Received);
        Assert.Equal([false], sent.GetInput<bool>(GenerationContract.Streaming).Data);
        Assert.Null(sent.FindInput<int>(GenerationContract.StopWordsList));
    }
}
