using Grpc.Core;

namespace GptjAspire.TritonClient.Tests;

public sealed class StatusNamesTests
{
    [Theory]
    [InlineData("INVALID_ARGUMENT: bad shape", StatusCode.InvalidArgument, "bad shape")]
    [InlineData("[request id: 7] Exceeds maximum queue size", StatusCode.ResourceExhausted, "[request id: 7] Exceeds maximum queue size")]
    [InlineData("UNAVAILABLE: [request id: 7] Exceeds maximum queue size", StatusCode.ResourceExhausted, "[request id: 7] Exceeds maximum queue size")]
    [InlineData("in ensemble 'x', something failed", StatusCode.Unknown, "in ensemble 'x', something failed")]
    public void Stream_error_text_is_read_by_meaning(string errorMessage, StatusCode code, string detail)
    {
        var status = StatusNames.ParseStreamError(errorMessage);

        Assert.Equal((code, detail), (status.StatusCode, status.Detail));
    }

    [Theory]
    [InlineData(StatusCode.Unavailable)]
    [InlineData(StatusCode.Unknown)]
    [InlineData(StatusCode.Internal)]
    public void Triton_queue_full_status_is_resource_exhausted_whatever_its_code(StatusCode code)
    {
        var error = new TritonException("ModelInfer", "gptj", new Status(code, "[request id: 3] Exceeds maximum queue size"));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("[request id: 3] Exceeds maximum queue size", error.Status.Detail);
    }

    [Fact]
    public void Other_statuses_keep_their_code()
    {
        var error = new TritonException("ModelInfer", "gptj", new Status(StatusCode.Unavailable, "Connection refused"));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }
}
