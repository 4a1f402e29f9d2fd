using System.Numerics;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>The random stream of one sequence: xoshiro256** seeded by SplitMix64 over (seed, sequence index), the same numbers on every run and platform.</summary>
/// <remarks>Our own generator instead of <see cref="Random"/>, whose seeded algorithm .NET does not promise to keep.
/// Reference stream: tools/sampling_reference/make_fixtures.py.</remarks>
public sealed class SequenceRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public SequenceRandom(ulong seed, int sequence)
    {
        var state = seed;
        var mixed = SplitMix64(ref state);
        // Spread the sequence index over all bits so that sequence i of seed s is unrelated to sequence i+1.
        state = mixed ^ unchecked((ulong)sequence * 0xD1B54A32D192ED03UL);
        _s0 = SplitMix64(ref state);
        _s1 = SplitMix64(ref state);
        _s2 = SplitMix64(ref state);
        _s3 = SplitMix64(ref state);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        var result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform double in [0, 1) from the top 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    private static ulong SplitMix64(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        var z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
