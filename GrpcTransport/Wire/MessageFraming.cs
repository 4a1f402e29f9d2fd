using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;

namespace GptjAspire.GrpcTransport.Wire;

/// <summary>Length-prefixed messages: Compressed-Flag, 4-byte big-endian Message-Length, then the protobuf bytes (PROTOCOL-HTTP2.md).</summary>
internal static class MessageFraming
{
    public static RpcException ReceiveTooLarge(long length, int max) =>
        new(new Status(StatusCode.ResourceExhausted, $"Received message larger than max ({length} vs. {max})"));

    public static RpcException SendTooLarge(long length, int max) =>
        new(new Status(StatusCode.ResourceExhausted, $"Sent message larger than max ({length} vs. {max})"));

    public static RpcException CompressedWithoutEncoding() =>
        new(new Status(StatusCode.Internal, "Received a compressed message but no grpc-encoding was negotiated; this transport supports identity only."));

    public static RpcException Incomplete() =>
        new(new Status(StatusCode.Internal, "Incomplete message: the stream ended inside a length-prefixed message."));

    public static int CheckedSize(IMessage message, int? maxSendSize)
    {
        var size = message.CalculateSize();
        if (maxSendSize is { } max && size > max)
        {
            throw SendTooLarge(size, max);
        }
        return size;
    }

    /// <summary>The whole frame as one array (client side: one write per message).</summary>
    public static byte[] Frame(IMessage message, int? maxSendSize)
    {
        var size = CheckedSize(message, maxSendSize);
        var frame = new byte[GrpcProtocol.FrameHeaderSize + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)size);
        message.WriteTo(frame.AsSpan(GrpcProtocol.FrameHeaderSize));
        return frame;
    }

    /// <summary>Writes a frame into a pipe without copying (server side).</summary>
    public static void Write(PipeWriter writer, IMessage message, int? maxSendSize)
    {
        var size = CheckedSize(message, maxSendSize);
        var header = writer.GetSpan(GrpcProtocol.FrameHeaderSize);
        header[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)size);
        writer.Advance(GrpcProtocol.FrameHeaderSize);
        message.WriteTo(writer);
    }

    /// <summary>Reads the next message from a pipe; null when the stream ended cleanly between messages.</summary>
    public static async ValueTask<T?> ReadAsync<T>(PipeReader reader, MessageParser<T> parser, int? maxReceiveSize, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= GrpcProtocol.FrameHeaderSize)
            {
                var length = ReadHeader(buffer, maxReceiveSize);
                if (buffer.Length >= GrpcProtocol.FrameHeaderSize + length)
                {
                    var payload = buffer.Slice(GrpcProtocol.FrameHeaderSize, length);
                    try
                    {
                        return Parse(parser, payload);
                    }
                    finally
                    {
                        reader.AdvanceTo(payload.End);
                    }
                }
            }
            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                if (buffer.Length > 0)
                {
                    throw Incomplete();
                }
                return null;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads the next message from a stream; null when the stream ended cleanly between messages.</summary>
    public static async ValueTask<T?> ReadAsync<T>(Stream stream, byte[] headerBuffer, MessageParser<T> parser, int? maxReceiveSize, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        var read = await stream.ReadAtLeastAsync(headerBuffer.AsMemory(0, GrpcProtocol.FrameHeaderSize), GrpcProtocol.FrameHeaderSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            return null;
        }
        if (read < GrpcProtocol.FrameHeaderSize)
        {
            throw Incomplete();
        }
        var length = ReadHeader(new ReadOnlySequence<byte>(headerBuffer, 0, GrpcProtocol.FrameHeaderSize), maxReceiveSize);
        var payload = length == 0 ? [] : new byte[length];
        if (length > 0)
        {
            var got = await stream.ReadAtLeastAsync(payload, (int)length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (got < length)
            {
                throw Incomplete();
            }
        }
        return Parse(parser, new ReadOnlySequence<byte>(payload));
    }

    private static long ReadHeader(ReadOnlySequence<byte> buffer, int? maxReceiveSize)
    {
        Span<byte> header = stackalloc byte[GrpcProtocol.FrameHeaderSize];
        buffer.Slice(0, GrpcProtocol.FrameHeaderSize).CopyTo(header);
        if (header[0] != 0)
        {
            throw CompressedWithoutEncoding();
        }
        long length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > (maxReceiveSize ?? int.MaxValue))
        {
            throw ReceiveTooLarge(length, maxReceiveSize ?? int.MaxValue);
        }
        return length;
    }

    private static T Parse<T>(MessageParser<T> parser, ReadOnlySequence<byte> payload)
        where T : class, IMessage<T>
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"Failed to deserialize {typeof(T).Name}: {e.Message}"));
        }
    }
}
