using System.Text;
using GptjAspire.Gptj.V1;
using GptjAspire.Preprocessor.Generation;

namespace GptjAspire.Preprocessor.Tests.Generation;

public sealed class SampleTextTests
{
    static GenerationPlan Plan(int maxNewTokens = 20, params string[] stop) =>
        new("r", "p", [1], 1, maxNewTokens, new SamplingParameters(), stop, [], false, TinyModel.EndOfText);

    static int[] Ids(string text) => TinyModel.Tokenizer.Encode(text);

    [Fact]
    public void Decode_of_split_multibyte_character_waits_for_the_rest()
    {
        var sample = new SampleText(TinyModel.Tokenizer, Plan());
        var ids = Ids("ệ");
        Assert.Equal(3, ids.Length);

        var pieces = ids.Select(sample.Append).ToList();

        Assert.Equal(["", "", "ệ"], pieces);
    }

    [Fact]
    public void Every_released_piece_is_whole_text_and_they_concatenate_to_the_decoding()
    {
        const string text = "Xin chào Việt Nam, tiếng Việt có dấu: ắ ằ ẳ ẵ ặ.";
        var sample = new SampleText(TinyModel.Tokenizer, Plan(maxNewTokens: 1000));

        var pieces = Ids(text).Select(sample.Append).ToList();
        pieces.Add(sample.End(FinishReason.Length));

        Assert.All(pieces, p => Assert.Equal(p, Encoding.UTF8.GetString(new UTF8Encoding(false, true).GetBytes(p))));
        Assert.Equal(text, string.Concat(pieces));
        Assert.Equal(text, sample.Text);
    }

    [Fact]
    public void End_of_text_token_ends_the_sample_with_stop_and_is_not_counted()
    {
        var sample = new SampleText(TinyModel.Tokenizer, Plan());

        foreach (var id in Ids("Xin chà"))
            sample.Append(id);
        sample.Append(TinyModel.EndOfText);
        var after = sample.Append(Ids("o")[0]);

        Assert.Equal(FinishReason.Stop, sample.Finish);
        Assert.Equal(Ids("Xin chà").Length, sample.TokenCount);
        Assert.Equal("Xin chà", sample.Text);
        Assert.Equal("", after);
    }

    [Fact]
    public void Reaching_max_new_tokens_ends_the_sample_with_length()
    {
        var sample = new SampleText(TinyModel.Tokenizer, Plan(maxNewTokens: 2));

        var ids = Ids("abc");
        var text = string.Concat(ids.Select(sample.Append));

        Assert.Equal(FinishReason.Length, sample.Finish);
        Assert.Equal(2, sample.TokenCount);
        Assert.Equal("ab", text);
    }

    [Fact]
    public void Stop_sequence_ends_the_sample_and_counts_tokens_up_to_it()
    {
        var sample = new SampleText(TinyModel.Tokenizer, Plan(20, "\n"));

        var text = string.Concat(Ids("ab\ncd").Select(sample.Append));

        Assert.Equal("ab", text);
        Assert.Equal(FinishReason.Stop, sample.Finish);
        Assert.Equal(3, sample.TokenCount);
    }

    [Fact]
    public void Backend_output_ending_short_of_max_new_tokens_without_end_token_is_a_stop()
    {
        var sample = new SampleText(TinyModel.Tokenizer, Plan(maxNewTokens: 10));

        foreach (var id in Ids("abc"))
            sample.Append(id);
        sample.EndOfOutput();

        Assert.Equal(FinishReason.Stop, sample.Finish);
        Assert.Equal(3, sample.TokenCount);
    }
}
