namespace GptjAspire.CpuBackend.Engine;

/// <summary>A checkpoint file that does not hold what it claims; the message names the file and, where one is concerned, the tensor.</summary>
/// <remarks>One type for malformed input whatever the format (config.json, index, safetensors, zip, pickle), so a loader's
/// caller can tell a bad file from a bug: any other exception escaping a loader is a defect in it.</remarks>
public sealed class CheckpointFormatException : Exception
{
    public CheckpointFormatException(string file, string? tensor, string problem, Exception? inner = null)
        : base(tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}", inner)
    {
        File = file;
        Tensor = tensor;
    }

    /// <summary>The file at fault (a path, or a folder for what a whole checkpoint lacks).</summary>
    public string File { get; }

    /// <summary>The tensor at fault, or null when the file's structure itself is broken.</summary>
    public string? Tensor { get; }
}
