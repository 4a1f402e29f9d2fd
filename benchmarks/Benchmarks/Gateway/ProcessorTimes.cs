using System.Diagnostics;

namespace GptjAspire.Benchmarks.Gateway;

/// <summary>Reads the processor time (user + system) the given processes have used so far: at 32 clients, where the engine
/// and the services share the cores, a path's throughput is bounded by the CPU its hops take from the engine.</summary>
internal sealed class ProcessorTimes(IReadOnlyList<Process> processes)
{
    public int Count => processes.Count;

    public TimeSpan[] Read()
    {
        var times = new TimeSpan[processes.Count];
        for (var i = 0; i < times.Length; i++)
        {
            processes[i].Refresh();
            times[i] = processes[i].TotalProcessorTime;
        }
        return times;
    }
}
