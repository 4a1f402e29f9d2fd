using System.Diagnostics;
using System.Text.Json;
using GptjAspire.Gateway.Tests.Api;
using GptjAspire.Testing;

namespace GptjAspire.Gateway.Tests.Clients;

/// <summary>The official OpenAI Node SDK, unchanged (tests/OpenAiNode, installed by <c>npm ci</c> in .ci/run), against the Gateway.</summary>
public sealed class OpenAiNodeTests
{
    [Fact]
    public async Task Node_sdk_completions_whole_and_streamed_its_error_and_the_model_list()
    {
        await using var host = await GatewayHost.StartAsync();

        var report = await RunReportAsync(host.Client.BaseAddress!.ToString().TrimEnd('/'));

        var whole = report.GetProperty("whole");
        Assert.Equal("text_completion", whole.GetProperty("object").GetString());
        Assert.Equal([" mẫu 0", " mẫu 1"], whole.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()));
        Assert.All(whole.GetProperty("choices").EnumerateArray(), c => Assert.Equal("length", c.GetProperty("finish_reason").GetString()));
        Assert.Equal(7, whole.GetProperty("usage").GetProperty("total_tokens").GetInt32());

        var streamed = report.GetProperty("streamed");
        Assert.True(streamed.GetProperty("chunks").GetInt32() >= 4, "every delta is its own chunk");
        Assert.Equal(" Việt Nam", streamed.GetProperty("texts").GetProperty("0").GetString());
        Assert.Equal(" Việt Nam", streamed.GetProperty("texts").GetProperty("1").GetString());
        Assert.Equal("stop", streamed.GetProperty("finishReasons").GetProperty("1").GetString());
        Assert.Equal(7, streamed.GetProperty("usage").GetProperty("total_tokens").GetInt32());

        var error = report.GetProperty("error");
        Assert.Equal(400, error.GetProperty("status").GetInt32());
        Assert.Equal("temperature", error.GetProperty("param").GetString());
        Assert.Equal("'temperature' must be at least 0 and at most 2; got 5.", error.GetProperty("message").GetString());
        Assert.Equal(2, host.Preprocessor.Requests.Count); // the rejected request never left the Gateway

        var models = report.GetProperty("models");
        Assert.Equal(["gptj"], models.GetProperty("listed").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("gptj", models.GetProperty("retrieved").GetProperty("id").GetString());
        Assert.Equal(404, models.GetProperty("missingModel").GetProperty("status").GetInt32());
        Assert.Equal("model_not_found", models.GetProperty("missingModel").GetProperty("code").GetString());
    }

    static async Task<JsonElement> RunReportAsync(string gateway)
    {
        var folder = Path.Combine(RepositoryPaths.Root, "tests", "OpenAiNode");
        Assert.True(Directory.Exists(Path.Combine(folder, "node_modules", "openai")), $"Run 'npm ci --prefix {folder}' first (.ci/run does).");
        var start = new ProcessStartInfo("node", ["report.mjs", gateway])
        {
            WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        Assert.True(process.ExitCode == 0, $"node report.mjs failed: {await errors}");
        using var report = JsonDocument.Parse(await output);
        return report.RootElement.Clone();
    }
}
