namespace GptjAspire.GrpcTransport.Wire;

/// <summary>Maps metadata entries to HTTP/2 header values and back; binary values travel base64-encoded (PROTOCOL-HTTP2.md).</summary>
internal static class MetadataHeaders
{
    public static string ToHeaderValue(Metadata.Entry entry) =>
        entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value;

    /// <summary>Adds one received header to metadata; binary keys are decoded, accepting unpadded base64 as the spec requires.</summary>
    public static void AddFromHeader(Metadata metadata, string name, string value)
    {
        if (GrpcProtocol.IsReservedHeader(name))
        {
            return;
        }
        if (Metadata.Entry.IsBinaryKey(name))
        {
            // A received binary header may hold several comma-separated base64 values.
            foreach (var part in value.Split(',', StringSplitOptions.TrimEntries))
            {
                metadata.Add(name, DecodeBase64(part));
            }
            return;
        }
        try
        {
            metadata.Add(name, value);
        }
        catch (ArgumentException)
        {
            // A peer sent a header our metadata rules reject (e.g. non-ASCII); it is not gRPC metadata.
        }
    }

    private static byte[] DecodeBase64(string text)
    {
        var padded = (text.Length % 4) switch
        {
            2 => text + "==",
            3 => text + "=",
            _ => text,
        };
        try
        {
            return Convert.FromBase64String(padded);
        }
        catch (FormatException)
        {
            throw new RpcException(new Status(StatusCode.Internal, "A -bin metadata value is not valid base64."));
        }
    }
}
