namespace GptjAspire.AppHost.Tests.Otlp;

/// <summary>One span as a service exported it: who sent it (service and instance), its trace and parent, its name,
/// attributes, event names, status (error with its message, or null when not an error) and its start and end (Unix ns).</summary>
public sealed record ReceivedSpan(
    string Service, string ServiceInstanceId, string TraceId, string SpanId, string ParentSpanId, string Scope, string Name,
    IReadOnlyDictionary<string, string> Attributes, IReadOnlyList<string> Events, string? Error,
    ulong StartUnixNano, ulong EndUnixNano);
