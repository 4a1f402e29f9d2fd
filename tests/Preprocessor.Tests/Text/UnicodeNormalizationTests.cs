using System.Diagnostics;

namespace GptjAspire.Preprocessor.Tests.Text;

/// <summary>The Preprocessor refuses to start where NFC normalization silently does nothing (no ICU), rather than
/// tokenize decomposed text unlike the same text composed.</summary>
public sealed class UnicodeNormalizationTests
{
    // A bound on the wait so a process that does not stop fails the test instead of hanging it; not a speed assertion.
    static readonly TimeSpan ExitGuard = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task Preprocessor_in_globalization_invariant_mode_stops_at_start_naming_the_cause()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Preprocessor.dll"));
        start.Environment["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1";
        start.Environment["Model__Path"] = TinyModel.Directory;
        start.Environment["services__backend__grpc__0"] = "http://127.0.0.1:9"; // never called: the start fails first
        start.Environment["Kestrel__Endpoints__http__Url"] = "http://127.0.0.1:0";

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var guard = new CancellationTokenSource(ExitGuard);
        try
        {
            await process.WaitForExitAsync(guard.Token);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }

        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("Unicode normalization (NFC) is unavailable", await output + await errors);
    }
}
