using Google.Rpc;
using GptjAspire.CpuBackend.Generation;
using GptjAspire.CpuBackend.Serving;
using StatusCode = Grpc.Core.StatusCode;

namespace GptjAspire.CpuBackend.Tests.Serving;

/// <summary>Only a refused request is the client's fault; an engine invariant that breaks is ours, and its text stays in the log.</summary>
public sealed class ServingErrorsTests
{
    [Theory]
    [InlineData("PromptIds", "input_ids")]
    [InlineData("MaxNewTokens", "request_output_len")]
    [InlineData("NumSequences", "num_return_sequences")]
    [InlineData("Sampling.TopP", "runtime_top_p")]
    [InlineData("Sampling.RepetitionPenalty", "repetition_penalty")]
    [InlineData("BadWords", "bad_words_list")]
    [InlineData("Sampling.PresencePenalty", "presence_penalty")]
    [InlineData("Sampling.FrequencyPenalty", "frequency_penalty")]
    [InlineData("Sampling.MinNewTokens", "min_length")]
    [InlineData("Sampling.LogitBias", "embedding_bias")]
    public void Refused_request_is_invalid_argument_with_a_violation_naming_the_tensor(string field, string tensor)
    {
        var status = ServingErrors.ToStatus(new InvalidGenerationRequestException(field, "Out of range; got 7."), DateTime.MaxValue);

        Assert.Equal(StatusCode.InvalidArgument, (StatusCode)status.Code);
        Assert.Equal($"Input '{tensor}': Out of range; got 7.", status.Message);
        var violation = Assert.Single(status.GetDetail<BadRequest>()!.FieldViolations);
        Assert.Equal((tensor, "Out of range; got 7."), (violation.Field, violation.Description));
    }

    [Fact]
    public void Engine_argument_exception_is_internal_without_its_text()
    {
        var engine = new ArgumentException("3 tokens for 2 caches", "caches");

        var status = ServingErrors.ToStatus(engine, DateTime.MaxValue);

        Assert.Equal((StatusCode.Internal, ServingErrors.InternalMessage), ((StatusCode)status.Code, status.Message));
        Assert.Empty(status.Details);
    }

    [Fact]
    public void Any_other_fault_is_internal_without_its_text()
    {
        var status = ServingErrors.ToStatus(new InvalidOperationException("cache 3 is owned by another model"), DateTime.MaxValue);

        Assert.Equal((StatusCode.Internal, ServingErrors.InternalMessage), ((StatusCode)status.Code, status.Message));
    }
}
