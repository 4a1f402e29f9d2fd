using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>The kernel and int8 parity tests again in a child test run with instruction sets switched off by the
/// runtime's DOTNET_Enable* settings, so the fallbacks of a CPU without them stay tested on this one.</summary>
public sealed class IsaSwitchTests
{
    private const string KernelTests =
        "FullyQualifiedName~Engine.MatMulTests|FullyQualifiedName~Engine.AddMatMulsTests|FullyQualifiedName~Engine.ScaledInputTests|FullyQualifiedName~Engine.HeadKernelsTests|FullyQualifiedName~Engine.ElementwiseKernelsTests|FullyQualifiedName~Best_is_the_fastest_path|FullyQualifiedName~Int8_storage_stays_within";

    // Without AVX2 there is no integer path, so its theory would have no cases.
    private const string VectorTests = "|FullyQualifiedName~Integer_product_equals";

    public static TheoryData<string, string, string, string> Switches() => new()
    {
        // Without AVX-VNNI int8 runs on vpmaddwd; without AVX2 every type on the scalar kernels.
        { "DOTNET_EnableAVXVNNI", Avx2.IsSupported ? nameof(Int8Path.Avx2) : nameof(Int8Path.Float), Avx512F.IsSupported ? "512" : "256", KernelTests + (Avx2.IsSupported ? VectorTests : "") },
        { "DOTNET_EnableAVX2", nameof(Int8Path.Float), "256", KernelTests },
        // Without AVX-512 the panel kernels make passes of one or two rows over whole panels, or three to five over half
        // panels, on 256-bit vectors instead of passes of ten on 512-bit ones;
        // AVX-VNNI is a VEX extension and stays. .NET 10 switches AVX-512 as one group (F, BW, CD, DQ, VL):
        // DOTNET_EnableAVX512F is no longer read.
        // The 512-bit VNNI kernel goes with it.
        { "DOTNET_EnableAVX512", AvxVnni.IsSupported ? nameof(Int8Path.AvxVnni) : Avx2.IsSupported ? nameof(Int8Path.Avx2) : nameof(Int8Path.Float), "256", KernelTests + (Avx2.IsSupported ? VectorTests : "") },
    };

    [Theory]
    [MemberData(nameof(Switches))]
    public async Task Kernel_tests_pass_with_an_instruction_set_switched_off(string variable, string expectedInt8Path, string expectedWidth, string filter)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "test", typeof(IsaSwitchTests).Assembly.Location, "--filter", filter, "--logger", "console;verbosity=normal" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { [variable] = "0", [Int8KernelTests.ExpectedPathVariable] = expectedInt8Path, [MatMulTests.ExpectedWidthVariable] = expectedWidth },
        };
        using var child = Process.Start(start)!;
        var output = child.StandardOutput.ReadToEndAsync();
        var errors = child.StandardError.ReadToEndAsync();
        // A bound so a wedged child fails the test instead of hanging it; not a speed assertion.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await child.WaitForExitAsync(timeout.Token);
        var log = await output + await errors;
        Assert.True(child.ExitCode == 0, $"{variable}=0: child test run failed\n{log}");
        Assert.Contains("Best_is_the_fastest_path_the_cpu_and_its_switches_allow", log);
        Assert.Contains("Int8_storage_stays_within", log);
        Assert.Contains("Kernels_use_512_bit_vectors_exactly_where_the_cpu_and_its_switches_allow", log);
        Assert.Contains("Scores_are_each_heads_dot_products_times_the_factor", log);
        // The switched-off path has no cases in the child, the remaining ones do.
        if (variable == "DOTNET_EnableAVXVNNI") Assert.DoesNotContain("(path: AvxVnni", log);
        Assert.DoesNotContain("(path: Avx512Vnni", log);
        if (expectedInt8Path == nameof(Int8Path.Avx2)) Assert.Contains("(path: Avx2", log);
    }
}
