namespace GptjAspire.CpuBackend.Engine;

/// <summary>How a KV cache stores its keys and values: f32, or f16 at half the memory (converted to f32 as attention reads them).</summary>
public enum KvCacheType
{
    F32,
    F16,
}
