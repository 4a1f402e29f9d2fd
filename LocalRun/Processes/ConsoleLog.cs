namespace GptjAspire.LocalRun.Processes;

/// <summary>Writes each service's output lines to the console behind its name, in a colour of its own when the console is a terminal.</summary>
public static class ConsoleLog
{
    static readonly Lock Gate = new();
    static readonly Dictionary<string, ConsoleColor> Colors = new()
    {
        [LocalSystem.BackendName] = ConsoleColor.Cyan,
        [LocalSystem.PreprocessorName] = ConsoleColor.Magenta,
        [LocalSystem.GatewayName] = ConsoleColor.Green,
    };

    public static void Write(string service, string line)
    {
        lock (Gate)
        {
            var colored = !Console.IsOutputRedirected && Colors.TryGetValue(service, out var color);
            if (colored)
                Console.ForegroundColor = Colors[service];
            Console.Write($"{service,-12}| ");
            if (colored)
                Console.ResetColor();
            Console.WriteLine(line);
        }
    }
}
