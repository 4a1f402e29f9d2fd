using System.Diagnostics;

namespace GptjAspire.LocalRun.Processes;

/// <summary>One service running as a child process (<c>dotnet Service.dll</c>), its output forwarded line by line under its name.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    ServiceProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    /// <summary>Completes with the exit code when the process ends, for whatever reason.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Starts <paramref name="dllPath"/> with the current environment plus <paramref name="environment"/>; each output line goes to <paramref name="output"/>.</summary>
    public static ServiceProcess Start(string name, string dllPath, IReadOnlyDictionary<string, string> environment, Action<string, string> output)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dllPath)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dllPath);
        // One log line per event, so a prefix marks every line of every service.
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment)
            start.Environment[key] = value;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var service = new ServiceProcess(name, process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output(name, e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output(name, e.Data); };
        process.Exited += (_, _) => service._exited.TrySetResult(process.ExitCode);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    /// <summary>Ends the process and its children at once (SIGKILL), as a crash would.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await Exited.WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { }, TaskScheduler.Default);
        _process.Dispose();
    }
}
