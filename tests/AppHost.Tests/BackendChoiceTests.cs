using Microsoft.Extensions.Configuration;

namespace GptjAspire.AppHost.Tests;

/// <summary>How the AppHost picks the backend and hands GPUs to the Triton container.</summary>
public sealed class BackendChoiceTests
{
    [Theory]
    [InlineData(null, BackendKind.Cpu)]
    [InlineData("cpu", BackendKind.Cpu)]
    [InlineData("Triton", BackendKind.Triton)]
    [InlineData(" gpu ", BackendKind.Triton)]
    public void Backend_comes_from_configuration_and_defaults_to_the_cpu(string? configured, BackendKind expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [BackendChoice.ConfigurationKey] = configured })
            .Build();

        Assert.Equal(expected, BackendChoice.From(configuration));
    }

    [Fact]
    public void Unknown_backend_is_an_error_that_names_the_key_and_the_choices()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [BackendChoice.ConfigurationKey] = "tpu" })
            .Build();

        var error = Assert.Throws<InvalidOperationException>(() => BackendChoice.From(configuration));

        Assert.Contains("'Backend' is 'tpu'", error.Message);
        Assert.Contains("'triton'", error.Message);
    }

    [Theory]
    [InlineData(null, new[] { "--gpus", "all" })]
    [InlineData("docker", new[] { "--gpus", "all" })]
    [InlineData("podman", new[] { "--device", "nvidia.com/gpu=all" })]
    public void Triton_gets_every_gpu_the_way_the_container_runtime_expects(string? runtime, string[] expected)
    {
        Assert.Equal(expected, TritonBackend.GpuArguments(runtime));
    }
}
