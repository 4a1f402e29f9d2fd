namespace GptjAspire.GrpcTransport.Tests.Wire;

public sealed class MetadataTests
{
    [Fact]
    public void Keys_are_lowercased_and_the_last_value_wins()
    {
        var metadata = new Metadata { { "X-Model", "a" }, { "x-model", "b" } };
        Assert.Equal("b", metadata.GetValue("X-MODEL"));
        Assert.Equal(["a", "b"], metadata.GetAll("x-model").Select(e => e.Value));
    }

    [Fact]
    public void Binary_key_with_text_value_is_refused() =>
        Assert.Throws<ArgumentException>(() => new Metadata { { "x-data-bin", "text" } });

    [Fact]
    public void Text_key_with_binary_value_is_refused() =>
        Assert.Throws<ArgumentException>(() => new Metadata { { "x-data", new byte[] { 1 } } });

    [Fact]
    public void Non_ascii_text_value_is_refused_with_a_hint() =>
        Assert.Contains("-bin", Assert.Throws<ArgumentException>(() => new Metadata { { "x-name", "Việt" } }).Message);

    [Fact]
    public void Key_with_illegal_character_is_refused() =>
        Assert.Throws<ArgumentException>(() => new Metadata { { "x name", "v" } });
}
