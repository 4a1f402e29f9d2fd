using System.Buffers;

namespace GptjAspire.Gateway.Errors;

/// <summary>A connection's output stream that holds back the start of each flush while it could still be an HTTP/1.1 error head,
/// and lets <see cref="KestrelRejections"/> replace one that is; every other byte goes straight on.</summary>
/// <remarks>Kestrel writes to it through a <see cref="System.IO.Pipelines.PipeWriter"/> created over it, so each of Kestrel's flushes arrives here as writes then one flush.</remarks>
sealed class RejectionRewriter(Stream inner, RejectionRewriter.Replace replace) : Stream
{
    /// <summary>Returns the bytes to send instead of <paramref name="head"/>, or null to send it as it is.</summary>
    public delegate byte[]? Replace(ReadOnlySpan<byte> head);

    // Kestrel's own error heads are about 130 bytes; anything longer is an application response.
    const int LongestHead = 512;
    static readonly byte[] StatusLinePrefix = "HTTP/1.1 "u8.ToArray();

    readonly ArrayBufferWriter<byte> _held = new(LongestHead);
    bool _passingThrough;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_passingThrough)
        {
            if (_held.WrittenCount + buffer.Length <= LongestHead && CouldBeErrorHead(_held.WrittenSpan, buffer.Span))
            {
                _held.Write(buffer.Span);
                return;
            }
            _passingThrough = true;
            await ReleaseAsync(replaceable: false, cancellationToken);
        }
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await ReleaseAsync(replaceable: true, cancellationToken);
        _passingThrough = false; // the next flush may start a new response
        await inner.FlushAsync(cancellationToken);
    }

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    public override async ValueTask DisposeAsync()
    {
        await ReleaseAsync(replaceable: true, CancellationToken.None);
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ReleaseAsync(replaceable: true, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    // "HTTP/1.1 4.." or "HTTP/1.1 5..", or a prefix of it.
    static bool CouldBeErrorHead(ReadOnlySpan<byte> held, ReadOnlySpan<byte> next)
    {
        Span<byte> start = stackalloc byte[StatusLinePrefix.Length + 1];
        var length = Math.Min(start.Length, held.Length + next.Length);
        var fromHeld = Math.Min(length, held.Length);
        held[..fromHeld].CopyTo(start);
        next[..(length - fromHeld)].CopyTo(start[fromHeld..]);
        start = start[..length];
        if (start.Length <= StatusLinePrefix.Length)
            return StatusLinePrefix.AsSpan().StartsWith(start);
        return start.StartsWith(StatusLinePrefix) && start[StatusLinePrefix.Length] is (byte)'4' or (byte)'5';
    }

    async ValueTask ReleaseAsync(bool replaceable, CancellationToken cancellationToken)
    {
        if (_held.WrittenCount == 0)
            return;
        var bytes = (replaceable ? replace(_held.WrittenSpan) : null) ?? _held.WrittenSpan.ToArray();
        _held.ResetWrittenCount();
        await inner.WriteAsync(bytes, cancellationToken);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
