using GptjAspire.CpuBackend.Engine;

namespace GptjAspire.CpuBackend.Tests.Engine;

/// <summary>The encoder of the kernels written at run time, byte for byte: these run on every machine, including those
/// whose CPU never executes the code (no AVX512-VNNI), where <see cref="Int8KernelTests"/> has no 512-bit cases.</summary>
/// <remarks>Each expected encoding was decoded by binutils' objdump (<c>objdump -D -b binary -mi386:x86-64 -M intel</c>)
/// to the instruction in its case name; registers 16-31 and r8-r15 are there because they take the EVEX and REX bits
/// that are easiest to get wrong.</remarks>
public sealed class X64AssemblerTests
{
    private static readonly Dictionary<string, (Action<X64Assembler> Emit, string Bytes)> Instructions = new()
    {
        ["vpxord zmm0,zmm0,zmm0"] = (a => a.Vpxord(0), "62F17D48EFC0"),
        ["vpxord zmm17,zmm17,zmm17"] = (a => a.Vpxord(17), "62A17540EFC9"),
        ["vpdpbusd zmm0,zmm10,zmm15"] = (a => a.Vpdpbusd(0, 10, 15), "62D22D4850C7"),
        ["vpdpbusd zmm5,zmm10,zmm16"] = (a => a.Vpdpbusd(5, 10, 16), "62B22D4850E8"),
        ["vpdpbusd zmm24,zmm17,zmm31"] = (a => a.Vpdpbusd(24, 17, 31), "6202754050C7"),
        ["vmovdqu32 zmm16,[rsi+0x0]"] = (a => a.LoadZmm(16, X64Assembler.Rsi, 0), "62E17E486F8600000000"),
        ["vmovdqu32 zmm11,[rdx+0x40]"] = (a => a.LoadZmm(11, X64Assembler.Rdx, 64), "62717E486F9A40000000"),
        ["vmovdqu32 [rcx+0x0],zmm0"] = (a => a.StoreZmm(X64Assembler.Rcx, 0, 0), "62F17E487F8100000000"),
        ["vmovdqu32 [r8+0x5c0],zmm23"] = (a => a.StoreZmm(X64Assembler.R8, 1472, 23), "62C17E487FB8C0050000"),
        ["vpdpbusd zmm0,zmm30,DWORD BCST [rsi+0x0]"] = (a => a.VpdpbusdBroadcast(0, 30, X64Assembler.Rsi, 0), "62F20D50508600000000"),
        ["vpdpbusd zmm23,zmm31,DWORD BCST [rsi+0x2c]"] = (a => a.VpdpbusdBroadcast(23, 31, X64Assembler.Rsi, 44), "62E2055050BE2C000000"),
        ["vpdpbusd zmm9,zmm30,DWORD BCST [r9+0x8]"] = (a => a.VpdpbusdBroadcast(9, 30, X64Assembler.R9, 8), "62520D50508908000000"),
        ["prefetcht0 [rdi+r8*1+0x0]"] = (a => a.Prefetch0(X64Assembler.Rdi, X64Assembler.R8), "420F184C0700"),
        ["prefetcht0 [rdi+r8*1+0x40]"] = (a => a.Prefetch0(X64Assembler.Rdi, X64Assembler.R8, 64), "420F184C0740"),
        ["prefetcht0 [rsi+r9*1+0x40]"] = (a => a.Prefetch0(X64Assembler.Rsi, X64Assembler.R9, 64), "420F184C0E40"),
        ["add rdx,0x140"] = (a => a.AddImmediate(X64Assembler.Rdx, 320), "4881C240010000"),
        ["add r9,0x40"] = (a => a.AddImmediate(X64Assembler.R9, 64), "4981C140000000"),
        ["vzeroupper; ret"] = (a => a.VzeroupperRet(), "C5F877C3"),
        // test rcx,rcx; je 0x12 (bound after the loop); dec rcx; jne 0x0; then the same on r8, its jump left unbound.
        ["loop control"] = (a =>
        {
            a.TestJumpIfZero(X64Assembler.Rcx, out var done);
            a.DecJumpIfNotZero(X64Assembler.Rcx, 0);
            a.Bind(done);
            a.TestJumpIfZero(X64Assembler.R8, out _);
            a.DecJumpIfNotZero(X64Assembler.R8, 0);
        }, "4885C90F840900000048FFC90F85EEFFFFFF4D85C00F840000000049FFC80F85DCFFFFFF"),
    };

    public static TheoryData<string> Cases() => [.. Instructions.Keys];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Encodes_the_instruction(string instruction)
    {
        var (emit, expected) = Instructions[instruction];
        var code = new X64Assembler();
        emit(code);
        Assert.Equal(expected, Convert.ToHexString(code.ToArray()));
    }

    [Fact]
    public void Align_pads_with_int3_to_the_boundary()
    {
        var code = new X64Assembler();
        code.VzeroupperRet();
        code.Align(64);
        var bytes = code.ToArray();
        Assert.Equal(64, bytes.Length);
        Assert.All(bytes[4..], b => Assert.Equal(0xCC, b));
    }
}
