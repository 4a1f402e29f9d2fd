using Google.Protobuf;

namespace GptjAspire.AppHost.Tests;

/// <summary>A span as the test needs it: which service emitted it, in which trace, under what name.</summary>
public sealed record ReceivedSpan(string ServiceName, string TraceId, string SpanId, string ParentSpanId, string Name);

/// <summary>
/// Reads the spans of an OTLP/HTTP ExportTraceServiceRequest (opentelemetry-proto
/// collector/trace/v1): resource_spans=1 { resource=1 { attributes=1 }, scope_spans=2 { spans=2 } },
/// Span { trace_id=1, span_id=2, parent_span_id=4, name=5 }, KeyValue { key=1, value=2 { string_value=1 } }.
/// Only the fields above are read; everything else is skipped by wire type.
/// </summary>
public static class OtlpSpanReader
{
    public static IReadOnlyList<ReceivedSpan> Read(byte[] exportTraceServiceRequest)
    {
        var spans = new List<ReceivedSpan>();
        foreach (var resourceSpans in Messages(exportTraceServiceRequest, 1))
        {
            var service = Messages(resourceSpans, 1)
                .SelectMany(resource => Messages(resource, 1))
                .Select(ReadAttribute)
                .Where(a => a.Key == "service.name")
                .Select(a => a.Value)
                .FirstOrDefault() ?? "";
            foreach (var scopeSpans in Messages(resourceSpans, 2))
            {
                foreach (var span in Messages(scopeSpans, 2))
                {
                    spans.Add(new ReceivedSpan(
                        service,
                        Convert.ToHexStringLower(Bytes(span, 1)),
                        Convert.ToHexStringLower(Bytes(span, 2)),
                        Convert.ToHexStringLower(Bytes(span, 4)),
                        System.Text.Encoding.UTF8.GetString(Bytes(span, 5))));
                }
            }
        }

        return spans;
    }

    private static (string Key, string? Value) ReadAttribute(byte[] keyValue)
    {
        var key = System.Text.Encoding.UTF8.GetString(Bytes(keyValue, 1));
        var value = Messages(keyValue, 2).Select(any => Bytes(any, 1)).FirstOrDefault();
        return (key, value is null ? null : System.Text.Encoding.UTF8.GetString(value));
    }

    private static byte[] Bytes(byte[] message, int field) => Messages(message, field).FirstOrDefault() ?? [];

    // Every length-delimited occurrence of `field` in `message`.
    private static IEnumerable<byte[]> Messages(byte[] message, int field)
    {
        var input = new CodedInputStream(message);
        var found = new List<byte[]>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }
}
