using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>vpdpbusd on 512-bit registers (AVX512-VNNI), for which .NET 10 has no intrinsic (its only 512-bit VNNI is
/// AVX10.2's, which neither of our machines has): the kernel of <see cref="Int8PanelKernels"/>, written here as x86-64
/// machine code at startup and called through a function pointer, as oneDNN builds its kernels at run time.</summary>
/// <remarks>
/// <para>The kernel multiplies one panel of 32 weight rows (<see cref="Matrix.Int8Panels"/>: the four weights of a row at
/// four consecutive depths side by side, as unsigned bytes) by up to <see cref="MaxRows"/> activation rows. Per group of four
/// depths it loads the panel's 128 bytes into two registers and, for each row, adds the row's four signed bytes, broadcast
/// from memory, against them: each lane of an accumulator is one output, so nothing is reduced across lanes at the end.</para>
/// <para>Used only where it can run: Linux on x86-64, AVX-512 enabled for .NET (so <c>DOTNET_EnableAVX512=0</c> turns it off
/// and the 256-bit paths are tested), the CPU reporting AVX512-VNNI, and memory that may be made executable.</para>
/// </remarks>
internal static unsafe class Vnni512Kernels
{
    /// <summary>Activation rows one call multiplies: two accumulators each, beside the panel's two registers.</summary>
    public const int MaxRows = 12;

    /// <summary>Panel bytes per group of four depths: 32 rows of four weights.</summary>
    public const int GroupBytes = 4 * Matrix.PanelWidth;

    /// <summary>Entry points by [rows - 1, prefetching].</summary>
    private static readonly nint[] Entries = new nint[2 * MaxRows];

    public static bool IsSupported { get; } = CanRun() && Emit();

    /// <summary>For <paramref name="rows"/> (1 to <see cref="MaxRows"/>) activation rows packed by groups of four depths (each
    /// group: four signed bytes of row 0, of row 1, ...), the int32 sums over the first <paramref name="groups"/> groups of
    /// the panel's 32 weight rows: row r's sums for weight rows 0-15 at sums[32r], 16-31 at sums[32r + 16]. When
    /// <paramref name="ahead"/> is not 0, the panel's two lines that many bytes ahead are prefetched as each group is read.</summary>
    public static void PanelDot(int rows, byte* panel, sbyte* x, long groups, int* sums, long ahead)
    {
        var kernel = (delegate* unmanaged[SuppressGCTransition]<byte*, sbyte*, long, int*, long, void>)
            Entries[2 * (rows - 1) + (ahead != 0 ? 1 : 0)];
        kernel(panel, x, groups, sums, ahead);
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
                EmitPanelDot(code, rows, prefetch);
                Entries[2 * (rows - 1) + (prefetch ? 1 : 0)] = start;
            }
        if (ExecutableMemory.Load(code.ToArray()) is not { } memory) return false;
        for (var i = 0; i < Entries.Length; i++) Entries[i] += memory;
        return true;
    }

    /// <summary>Arguments (System V): rdi panel, rsi packed activations, rdx groups, rcx sums, r8 prefetch distance.
    /// Registers: accumulators zmm0 to zmm(2·rows - 1), row r's in zmm(2r) (weight rows 0-15) and zmm(2r + 1) (16-31); the
    /// panel's group in zmm30 and zmm31.</summary>
    private static void EmitPanelDot(X64Assembler code, int rows, bool prefetch)
    {
        const int Low = 30, High = 31;
        for (var a = 0; a < 2 * rows; a++) code.Vpxord(a);
        code.TestJumpIfZero(X64Assembler.Rdx, out var toDone);
        var loop = code.Length;
        if (prefetch)
        {
            code.Prefetch0(X64Assembler.Rdi, X64Assembler.R8);
            code.Prefetch0(X64Assembler.Rdi, X64Assembler.R8, 64);
        }
        code.LoadZmm(Low, X64Assembler.Rdi, 0);
        code.LoadZmm(High, X64Assembler.Rdi, 64);
        for (var r = 0; r < rows; r++)
        {
            code.VpdpbusdBroadcast(2 * r, Low, X64Assembler.Rsi, 4 * r);
            code.VpdpbusdBroadcast(2 * r + 1, High, X64Assembler.Rsi, 4 * r);
        }
        code.AddImmediate(X64Assembler.Rdi, GroupBytes);
        code.AddImmediate(X64Assembler.Rsi, 4 * rows);
        code.DecJumpIfNotZero(X64Assembler.Rdx, loop);
        code.Bind(toDone);
        for (var a = 0; a < 2 * rows; a++) code.StoreZmm(X64Assembler.Rcx, 64 * a, a);
        code.VzeroupperRet();
    }
}
