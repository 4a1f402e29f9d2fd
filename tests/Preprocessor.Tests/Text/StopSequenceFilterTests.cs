using GptjAspire.Preprocessor.Text;

namespace GptjAspire.Preprocessor.Tests.Text;

public sealed class StopSequenceFilterTests
{
    [Fact]
    public void Text_without_stop_sequences_passes_through_at_once()
    {
        var filter = new StopSequenceFilter([]);

        Assert.Equal("Hà Nội", filter.Append("Hà Nội"));
        Assert.False(filter.Stopped);
    }

    [Fact]
    public void Possible_start_of_a_stop_sequence_is_held_back_until_decided()
    {
        var filter = new StopSequenceFilter(["###"]);

        Assert.Equal("abc", filter.Append("abc#"));
        Assert.Equal("", filter.Append("#"));
        Assert.Equal("##x", filter.Append("x"));
        Assert.False(filter.Stopped);
    }

    [Fact]
    public void Stop_sequence_split_across_pieces_cuts_the_text_before_it()
    {
        var filter = new StopSequenceFilter(["\n\n"]);

        Assert.Equal("Một", filter.Append("Một\n"));
        Assert.Equal("", filter.Append("\nHai"));
        Assert.True(filter.Stopped);
        Assert.Equal("", filter.Append("Ba"));
        Assert.Equal("", filter.Flush());
    }

    [Fact]
    public void Earliest_of_several_stop_sequences_wins()
    {
        var filter = new StopSequenceFilter(["kết thúc", "."]);

        Assert.Equal("Câu một", filter.Append("Câu một. kết thúc"));
    }

    [Fact]
    public void Flush_releases_held_text_when_the_completion_ends_otherwise()
    {
        var filter = new StopSequenceFilter(["Hết."]);

        Assert.Equal("Xin chào ", filter.Append("Xin chào Hế"));
        Assert.Equal("Hế", filter.Flush());
    }
}
