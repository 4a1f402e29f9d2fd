namespace GptjAspire.Tokenizer.Tests;

/// <summary>A fresh folder under the temp directory, deleted with its contents on dispose.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("tokenizer-tests-");

    public string Path => directory.FullName;

    public void Dispose() => directory.Delete(recursive: true);
}
