using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>vpdpbusd on 512-bit registers (AVX512-VNNI), for which .NET 10 has no intrinsic (its only 512-bit VNNI is
/// AVX10.2's, which neither of our machines has): <see cref="Int8Kernels"/>' pair-of-weight-rows kernel, written here as
/// x86-64 machine code at startup and called through a function pointer, as oneDNN builds its kernels at run time.</summary>
/// <remarks>
/// One instruction multiplies 64 activation bytes by 64 weight bytes where the 256-bit intrinsic multiplies 32. Measured on
/// the 2-core Zen 5 machine, one thread, operands in L1 (k = 1024, five rows by two weight rows): 394 against 247 G
/// multiply-adds per second; in L2 (k = 8192) 279 against 220. The ten-sequence int8 decode step is bound by these
/// products, which the 256-bit kernel ran at 73-79% of its instruction peak.
/// <para>The code is small and fixed: two weight rows against one block of up to five packed activation rows, the loop over
/// 64-byte chunks, and a reduction of each accumulator to eight lanes, which <see cref="Int8Kernels"/> finishes as it
/// finishes its own.</para>
/// <para>Used only where it can run: Linux on x86-64, AVX-512 enabled for .NET (so <c>DOTNET_EnableAVX512=0</c> turns it off
/// and the 256-bit path is tested), the CPU reporting AVX512-VNNI, and memory that may be made executable.</para>
/// </remarks>
internal static unsafe class Vnni512Kernels
{
    /// <summary>Ints written to the sums buffer: ten accumulators of eight lanes, row r against w0 at 8·r, against w1 at 8·(5 + r).</summary>
    public const int SumInts = 80;

    /// <summary>Activation bytes per chunk of one row: one register.</summary>
    public const int ChunkBytes = 64;

    private const int MaxRows = 5;

    /// <summary>Entry points by [rows - 1, prefetching].</summary>
    private static readonly nint[] Entries = new nint[2 * MaxRows];

    public static bool IsSupported { get; } = CanRun() && Emit();

    /// <summary>For <paramref name="rows"/> (1-5) packed activation rows (chunks of 64 bytes, rows interleaved by chunk) and two
    /// weight rows, the int32 sums over the first <paramref name="chunks"/> · 64 elements, eight lanes per (row, weight row) pair,
    /// into <paramref name="sums"/> (<see cref="SumInts"/> ints; pairs beyond <paramref name="rows"/> are zero). When
    /// <paramref name="ahead"/> is not 0, each weight row's line that many bytes ahead is prefetched as it is read.</summary>
    public static void Dot2xN(int rows, sbyte* w0, sbyte* w1, byte* x, long chunks, int* sums, long ahead)
    {
        var kernel = (delegate* unmanaged[SuppressGCTransition]<sbyte*, sbyte*, byte*, long, int*, long, void>)
            Entries[2 * (rows - 1) + (ahead != 0 ? 1 : 0)];
        kernel(w0, w1, x, chunks, sums, ahead);
    }

    private static bool CanRun()
    {
        const int Avx512VnniBit = 1 << 11; // CPUID leaf 7, sub-leaf 0, ECX
        return OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64
            && Avx512F.IsSupported && Avx512BW.IsSupported && AvxVnni.IsSupported
            && (X86Base.CpuId(7, 0).Ecx & Avx512VnniBit) != 0;
    }

    private static bool Emit()
    {
        var code = new X64Assembler();
        for (var rows = 1; rows <= MaxRows; rows++)
            foreach (var prefetch in new[] { false, true })
            {
                code.Align(64);
                var start = code.Length;
                EmitDot2xN(code, rows, prefetch);
                Entries[2 * (rows - 1) + (prefetch ? 1 : 0)] = start;
            }
        if (ExecutableMemory.Load(code.ToArray()) is not { } memory) return false;
        for (var i = 0; i < Entries.Length; i++) Entries[i] += memory;
        return true;
    }

    /// <summary>Arguments (System V): rdi w0, rsi w1, rdx packed activations, rcx chunks, r8 sums, r9 prefetch distance.
    /// Registers: accumulators zmm0-4 (weight row 0) and zmm5-9 (row 1), activation rows zmm10-14, weight rows zmm15-16,
    /// zmm24 scratch (<see cref="StoreLanes"/>).</summary>
    private static void EmitDot2xN(X64Assembler code, int rows, bool prefetch)
    {
        const int W0 = 15, W1 = 16, FirstRow = 10;
        for (var a = 0; a < 2 * MaxRows; a++) code.Vpxord(a);
        code.TestJumpIfZero(X64Assembler.Rcx, out var toDone);
        var loop = code.Length;
        if (prefetch)
        {
            code.Prefetch0(X64Assembler.Rdi, X64Assembler.R9);
            code.Prefetch0(X64Assembler.Rsi, X64Assembler.R9);
        }
        code.LoadZmm(W0, X64Assembler.Rdi, 0);
        code.LoadZmm(W1, X64Assembler.Rsi, 0);
        for (var r = 0; r < rows; r++)
        {
            code.LoadZmm(FirstRow + r, X64Assembler.Rdx, r * ChunkBytes);
            code.Vpdpbusd(r, FirstRow + r, W0);
            code.Vpdpbusd(MaxRows + r, FirstRow + r, W1);
        }
        code.AddImmediate(X64Assembler.Rdi, ChunkBytes);
        code.AddImmediate(X64Assembler.Rsi, ChunkBytes);
        code.AddImmediate(X64Assembler.Rdx, rows * ChunkBytes);
        code.DecJumpIfNotZero(X64Assembler.Rcx, loop);
        code.Bind(toDone);
        for (var a = 0; a < 2 * MaxRows; a++) StoreLanes(code, a, X64Assembler.R8, a);
        code.VzeroupperRet();
    }

    /// <summary>Adds an accumulator's upper 256 bits onto its lower ones (eight lanes, the width the 256-bit kernel reduces)
    /// and stores them as slot <paramref name="slot"/> of the sums.</summary>
    private static void StoreLanes(X64Assembler code, int accumulator, int sums, int slot)
    {
        const int Scratch = 24;
        code.ExtractUpperYmm(Scratch, accumulator);
        code.AddYmm(accumulator, accumulator, Scratch);
        code.StoreYmm(sums, 32 * slot, accumulator);
    }
}
