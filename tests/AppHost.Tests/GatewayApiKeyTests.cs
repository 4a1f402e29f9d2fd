namespace GptjAspire.AppHost.Tests;

/// <summary>The published Gateway requires a generated secret key; a local run stays open.</summary>
public sealed class GatewayApiKeyTests
{
    static IDistributedApplicationBuilder Builder(params string[] args)
    {
        var builder = DistributedApplication.CreateBuilder(args);
        // Any project stands in for the Gateway: only the model is inspected, nothing runs.
        builder.AddProject("gateway", Projects.AppHost.ProjectPath).WithPublishedApiKey();
        return builder;
    }

    [Fact]
    public void Publishing_adds_the_generated_secret_parameter()
    {
        var output = Directory.CreateTempSubdirectory();
        try
        {
            var builder = Builder("--operation", "publish", "--publisher", "manifest", "--output-path", output.FullName);

            Assert.True(builder.ExecutionContext.IsPublishMode);
            var key = builder.Resources.OfType<ParameterResource>().Single(p => p.Name == GatewayApiKey.ParameterName);
            Assert.True(key.Secret);
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    [Fact]
    public void Running_locally_adds_no_key()
    {
        var builder = Builder();

        Assert.False(builder.ExecutionContext.IsPublishMode);
        Assert.DoesNotContain(builder.Resources, r => r.Name == GatewayApiKey.ParameterName);
    }
}
