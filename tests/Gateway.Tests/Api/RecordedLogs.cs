using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace GptjAspire.Gateway.Tests.Api;

/// <summary>A logger provider that keeps every entry the Gateway's log filters let through, for tests of what it logs.</summary>
public sealed class RecordedLogs : ILoggerProvider
{
    readonly ConcurrentQueue<Entry> _entries = new();

    /// <summary>One log entry: its category, level and text, and whether it carried an exception.</summary>
    public sealed record Entry(string Category, LogLevel Level, string Message, bool HasException);

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public void Clear() => _entries.Clear();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    sealed class Logger(RecordedLogs logs, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs._entries.Enqueue(new Entry(category, logLevel, formatter(state, exception), exception is not null));
    }
}
