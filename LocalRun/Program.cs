// The README's first command: CpuBackend, Preprocessor and Gateway as three processes wired like Aspire wires them.
using System.Runtime.InteropServices;
using GptjAspire.LocalRun.Processes;

using var stop = new CancellationTokenSource();
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal => { signal.Cancel = true; stop.Cancel(); });
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal => { signal.Cancel = true; stop.Cancel(); });

await using var system = new LocalSystem(ConsoleLog.Write);
Console.WriteLine("Starting backend (CpuBackend), preprocessor and gateway; waiting until all are healthy...");
system.Start();
try
{
    await system.WaitHealthyAsync(TimeSpan.FromMinutes(10), stop.Token);
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException)
{
    Console.Error.WriteLine($"LocalRun: {e.Message} Stopping.");
    return 1;
}
catch (OperationCanceledException)
{
    Console.WriteLine("Stopping.");
    return 0;
}

var url = system.GatewayUrl.ToString().TrimEnd('/');
Console.WriteLine();
Console.WriteLine($"Gateway ready at {url}   (OpenAPI: {url}/openapi/v1.json; Ctrl+C stops everything)");
Console.WriteLine("Try:");
Console.WriteLine($$"""  curl -s {{url}}/predict -H 'Content-Type: application/json' -d '{"text": "Hà Nội là thủ đô của", "n_samples": 2}'""");
Console.WriteLine();

var firstExit = Task.WhenAny(system.Running.Select(p => p.Exited.ContinueWith(_ => p, TaskScheduler.Default)));
var stopped = Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => (ServiceProcess?)null, TaskScheduler.Default);
var ended = await await Task.WhenAny(firstExit.ContinueWith(t => (ServiceProcess?)t.Result.Result, TaskScheduler.Default), stopped);
if (ended is null)
{
    Console.WriteLine("Stopping all services.");
    return 0;
}
Console.Error.WriteLine($"LocalRun: {ended.Name} exited with code {ended.Exited.Result}; stopping the others.");
return 1;
