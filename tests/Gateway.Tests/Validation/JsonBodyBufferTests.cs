using System.Text;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Validation;
using Microsoft.AspNetCore.Http;

namespace GptjAspire.Gateway.Tests.Validation;

/// <summary>What a body's declared length makes the Gateway hold before the bytes arrive.</summary>
public sealed class JsonBodyBufferTests
{
    const long Limit = 1024 * 1024;

    [Fact]
    public async Task A_client_that_declares_the_limit_and_stalls_holds_no_buffer_of_that_size()
    {
        var body = new RecordingStream(Encoding.UTF8.GetBytes("""{"prompt": "Hà"""), stallAtEnd: true);
        var request = Request(body, contentLength: Limit);
        using var stop = new CancellationTokenSource();

        var reading = JsonBody.ReadObjectAsync(request, Limit, stop.Token);
        await body.Stalled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        Assert.InRange(body.LargestReadOffered, 1, 128 * 1024);
    }

    [Fact]
    public async Task A_body_of_the_declared_size_near_the_limit_arrives_whole_in_pieces()
    {
        var prompt = "Hà Nội mùa thu " + new string('x', (int)Limit - 100);
        var bytes = Encoding.UTF8.GetBytes($$"""{"prompt": "{{prompt}}"}""");
        Assert.InRange(bytes.Length, Limit - 100, Limit);
        var body = new RecordingStream(bytes, stallAtEnd: false, piece: 7_000);

        var parsed = await JsonBody.ReadObjectAsync(Request(body, bytes.Length), Limit, CancellationToken.None);

        Assert.Equal(prompt, parsed.GetProperty("prompt").GetString());
    }

    [Fact]
    public async Task A_body_longer_than_the_limit_is_refused_while_reading_without_a_declared_length()
    {
        var body = new RecordingStream(new byte[Limit + 10], stallAtEnd: false, piece: 50_000);

        var refusal = await Assert.ThrowsAsync<ApiException>(() => JsonBody.ReadObjectAsync(Request(body, contentLength: null), Limit, CancellationToken.None));

        Assert.Equal(ApiErrorKind.PayloadTooLarge, refusal.Kind);
    }

    static HttpRequest Request(Stream body, long? contentLength)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = contentLength;
        context.Request.Body = body;
        return context.Request;
    }

    /// <summary>Serves its bytes a piece at a time, records the largest buffer a read offered, and optionally never ends.</summary>
    sealed class RecordingStream(byte[] bytes, bool stallAtEnd, int piece = int.MaxValue) : Stream
    {
        int _position;

        public int LargestReadOffered { get; private set; }
        public TaskCompletionSource Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            LargestReadOffered = Math.Max(LargestReadOffered, destination.Length);
            if (_position == bytes.Length)
            {
                if (!stallAtEnd)
                    return 0;
                Stalled.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            var count = Math.Min(Math.Min(piece, destination.Length), bytes.Length - _position);
            bytes.AsSpan(_position, count).CopyTo(destination.Span);
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
