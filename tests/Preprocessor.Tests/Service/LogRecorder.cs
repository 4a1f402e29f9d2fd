using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace GptjAspire.Preprocessor.Tests.Service;

/// <summary>Keeps every log line a host writes, with its level, for tests that check what went to the log instead of the caller.</summary>
internal sealed class LogRecorder : ILoggerProvider
{
    readonly ConcurrentQueue<(LogLevel Level, string Category, string Message)> _lines = new();

    public IReadOnlyList<(LogLevel Level, string Category, string Message)> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    sealed class Logger(LogRecorder recorder, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            recorder._lines.Enqueue((logLevel, category, formatter(state, exception)));
    }
}
