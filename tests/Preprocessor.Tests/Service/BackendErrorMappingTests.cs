extern alias gateway;
using System.Diagnostics;
using Google.Rpc;
using GptjAspire.Preprocessor.Errors;
using GptjAspire.Preprocessor.Tests.Backend;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using GenerateRequest = gateway::GptjAspire.Gptj.V1.GenerateRequest;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>
/// The Preprocessor's answer to each way a Triton-like backend fails, through the real gRPC stack on both sides: the
/// status by meaning, google.rpc.Status details (ErrorInfo reason in domain gptj.v1, RetryInfo where retrying helps),
/// a stable message without the backend's text, and a backend that stays ready for the next request.
/// </summary>
public sealed class BackendErrorMappingTests : IAsyncLifetime
{
    PreprocessorHost _host = null!;

    public async Task InitializeAsync() => _host = await PreprocessorHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<StreamAnswer, bool, StatusCode, string, string, bool> Failures()
    {
        var data = new TheoryData<StreamAnswer, bool, StatusCode, string, string, bool>();
        foreach (var streamed in new[] { false, true })
        {
            // The backend refusing tensors the Preprocessor built is our bug, not the caller's: never a 400 naming a tensor.
            data.Add(StreamAnswer.InvalidArgument, streamed, StatusCode.Internal, "BACKEND_FAILED", BackendFailures.FailedMessage, false);
            data.Add(StreamAnswer.InvalidArgumentStatus, streamed, StatusCode.Internal, "BACKEND_FAILED", BackendFailures.FailedMessage, false);
            data.Add(StreamAnswer.ResourceExhaustedStatus, streamed, StatusCode.ResourceExhausted, "BACKEND_OVERLOADED", BackendFailures.OverloadedMessage, true);
            // Triton's queue-full refusal, in-band or as an UNAVAILABLE status, is overload, not a lost backend.
            data.Add(StreamAnswer.QueueFull, streamed, StatusCode.ResourceExhausted, "BACKEND_OVERLOADED", BackendFailures.OverloadedMessage, true);
            data.Add(StreamAnswer.QueueFullStatus, streamed, StatusCode.ResourceExhausted, "BACKEND_OVERLOADED", BackendFailures.OverloadedMessage, true);
            data.Add(StreamAnswer.UnavailableStatus, streamed, StatusCode.Unavailable, "BACKEND_UNAVAILABLE", BackendFailures.UnavailableMessage, true);
            data.Add(StreamAnswer.MalformedShape, streamed, StatusCode.Internal, "BACKEND_OUTPUT_MALFORMED", BackendFailures.MalformedMessage, false);
            data.Add(StreamAnswer.MissingOutputIds, streamed, StatusCode.Internal, "BACKEND_OUTPUT_MALFORMED", BackendFailures.MalformedMessage, false);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Backend_failure_is_answered_by_meaning_with_details_and_a_stable_message(
        StreamAnswer answer, bool streamed, StatusCode code, string reason, string message, bool retryable)
    {
        _host.Backend.Script(answer);

        var error = await Assert.ThrowsAsync<RpcException>(() => CallAsync(streamed));

        Assert.Equal((code, message), (error.StatusCode, error.Status.Detail));
        var status = error.GetRpcStatus();
        Assert.NotNull(status);
        var info = status.GetDetail<ErrorInfo>();
        Assert.Equal(("gptj.v1", reason), (info?.Domain, info?.Reason));
        Assert.Equal(retryable ? TimeSpan.FromSeconds(1) : null, status.GetDetail<RetryInfo>()?.RetryDelay.ToTimeSpan());
        Assert.Null(status.GetDetail<BadRequest>());
        foreach (var leak in new[] { "input_ids", "Exceeds maximum queue size", "queue is full", "shutting down", "output_ids", "sequence_length", "Exception" })
            Assert.DoesNotContain(leak, status.ToString());
    }

    [Fact]
    public async Task Backend_text_goes_to_the_log_and_the_span_of_the_call()
    {
        var failed = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.Status == ActivityStatusCode.Error)
                    lock (failed)
                        failed.Add(activity);
            },
        };
        ActivitySource.AddActivityListener(listener);
        _host.Backend.Script(StreamAnswer.InvalidArgument);

        var error = await Assert.ThrowsAsync<RpcException>(() => CallAsync(streamed: false));

        Assert.DoesNotContain("input_ids", error.Status.Detail);
        Assert.Contains(_host.Log.Lines, line => line.Level == LogLevel.Warning && line.Message.Contains(ScriptedKServe.InvalidInputText, StringComparison.Ordinal));
        // The server span ends just after the call's trailers are sent.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline && failed.Count == 0)
            await Task.Delay(10);
        lock (failed)
            Assert.Contains(failed, span => span.StatusDescription?.Contains(ScriptedKServe.InvalidInputText, StringComparison.Ordinal) == true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Backend_refusing_a_request_leaves_it_ready_for_the_next(bool streamed)
    {
        _host.Backend.Script(StreamAnswer.InvalidArgument, StreamAnswer.MalformedShape);

        await Assert.ThrowsAsync<RpcException>(() => CallAsync(streamed));
        await Assert.ThrowsAsync<RpcException>(() => CallAsync(streamed));

        await CallAsync(streamed);
    }

    [Fact]
    public async Task Request_that_does_not_fit_the_context_names_the_field_in_a_violation_not_in_the_message()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _host.Client.GenerateAsync(new GenerateRequest { Prompt = "abcd", MaxNewTokens = 29 }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("The prompt (4 tokens) plus 29 new tokens exceeds the model's context of 32 tokens; at most 28 new tokens fit after this prompt.",
            error.Status.Detail);
        var status = error.GetRpcStatus()!;
        Assert.Equal(("gptj.v1", "CONTEXT_LENGTH_EXCEEDED"), (status.GetDetail<ErrorInfo>()?.Domain, status.GetDetail<ErrorInfo>()?.Reason));
        var violation = Assert.Single(status.GetDetail<BadRequest>()!.FieldViolations);
        Assert.Equal(("max_new_tokens", error.Status.Detail), (violation.Field, violation.Description));
        Assert.Null(status.GetDetail<RetryInfo>());
    }

    [Fact]
    public async Task Out_of_range_field_is_an_invalid_field_violation()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _host.Client.GenerateAsync(new GenerateRequest { Prompt = "abcd", N = 1000 }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var status = error.GetRpcStatus()!;
        Assert.Equal("INVALID_FIELD", status.GetDetail<ErrorInfo>()?.Reason);
        Assert.Equal("n", Assert.Single(status.GetDetail<BadRequest>()!.FieldViolations).Field);
        Assert.DoesNotMatch(@"\bn\b", error.Status.Detail);
    }

    async Task CallAsync(bool streamed)
    {
        var request = new GenerateRequest { Prompt = "ab", MaxNewTokens = 2 };
        if (!streamed)
        {
            await _host.Client.GenerateAsync(request).ResponseAsync;
            return;
        }
        using var call = _host.Client.GenerateStream(request);
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
        }
    }
}
