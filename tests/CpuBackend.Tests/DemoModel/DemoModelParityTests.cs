using GptjAspire.CpuBackend.Engine;
using GptjAspire.CpuBackend.Tests.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace GptjAspire.CpuBackend.Tests.DemoModel;

/// <summary>The engine on the demo checkpoint against PyTorch (fixture Fixtures/gptj/gptj-vi-demo, tools/gptj_reference/make_fixtures.py --model-dir).</summary>
public sealed class DemoModelParityTests
{
    private const string FixtureName = "gptj-vi-demo";

    [Fact]
    public void Demo_checkpoint_logits_match_pytorch_within_1e4()
    {
        // f16 weights as stored, computed in fp32 here and in fp64 by the reference (logits up to ~10).
        var reference = ReferenceFixture.Load(FixtureName);
        using var model = GptjModel.Load(DemoCheckpoint.Directory, null, NullLogger.Instance);
        foreach (var prompt in reference.Prompts)
        {
            var logits = new float[prompt.Ids.Length * model.Config.VocabSize];
            model.Forward(prompt.Ids, model.CreateCache(), logits);
            Assert.InRange(GptjParityTests.MaxAbsDifference(logits, prompt.Logits), 0, 1e-4);
        }
    }

    [Fact]
    public void Demo_checkpoint_greedy_continuation_matches_pytorch()
    {
        var reference = ReferenceFixture.Load(FixtureName);
        using var model = GptjModel.Load(DemoCheckpoint.Directory, null, NullLogger.Instance);
        foreach (var prompt in reference.Prompts)
            Assert.Equal(prompt.Greedy, GptjParityTests.Greedy(model, prompt.Ids, prompt.Greedy.Length));
    }
}
