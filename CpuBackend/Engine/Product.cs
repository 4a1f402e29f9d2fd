namespace GptjAspire.CpuBackend.Engine;

/// <summary>One of several products of the same activations (<see cref="Kernels.MatMul(ReadOnlySpan{float}, int, ReadOnlySpan{Product})"/>):
/// Output[r, o] = Σ_i x[r, i] · Weights[o, i] (+ Bias[o]).</summary>
internal readonly record struct Product(Matrix Weights, float[]? Bias, float[] Output);
