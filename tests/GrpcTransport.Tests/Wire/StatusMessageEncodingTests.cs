using GptjAspire.GrpcTransport.Wire;

namespace GptjAspire.GrpcTransport.Tests.Wire;

public sealed class StatusMessageEncodingTests
{
    [Fact]
    public void Printable_ascii_is_sent_unchanged() => Assert.Equal("plain text!", StatusMessageEncoding.Encode("plain text!"));

    [Fact]
    public void Non_ascii_and_percent_are_percent_encoded_utf8()
    {
        Assert.Equal("Vi%E1%BB%87t 100%25", StatusMessageEncoding.Encode("Việt 100%"));
    }

    [Fact]
    public void Decode_inverts_encode_for_vietnamese() =>
        Assert.Equal("Mô hình đang bận\n", StatusMessageEncoding.Decode(StatusMessageEncoding.Encode("Mô hình đang bận\n")));

    [Fact]
    public void Decode_keeps_a_malformed_percent_sequence() => Assert.Equal("50%zz%", StatusMessageEncoding.Decode("50%zz%"));
}
