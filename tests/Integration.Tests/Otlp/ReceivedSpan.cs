namespace GptjAspire.Integration.Tests.Otlp;

/// <summary>One span as a service exported it: who sent it, its trace, its name, attributes and event names.</summary>
public sealed record ReceivedSpan(
    string Service, string TraceId, string SpanId, string Scope, string Name,
    IReadOnlyDictionary<string, string> Attributes, IReadOnlyList<string> Events);
