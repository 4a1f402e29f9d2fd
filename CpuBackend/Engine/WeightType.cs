namespace GptjAspire.CpuBackend.Engine;

/// <summary>How weight matrices are held in memory: a checkpoint dtype or int8 with one scale per row.</summary>
public enum WeightType
{
    F32,
    F16,
    BF16,
    Int8,
}
