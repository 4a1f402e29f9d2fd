namespace GptjAspire.CpuBackend.Engine;

/// <summary>Encodes the few x86-64 instructions of the kernels written at run time (<see cref="Vnni512Kernels"/>): Intel SDM
/// vol. 2, EVEX prefix, ModRM and SIB. Registers are numbered as the encoding numbers them (rax 0 … r15 15, zmm0 … zmm31).</summary>
internal sealed class X64Assembler
{
    public const int Rcx = 1, Rdx = 2, Rsi = 6, Rdi = 7, R8 = 8, R9 = 9;

    private const int Map0F = 1, Map0F38 = 2;
    private const int Prefix66 = 1, PrefixF3 = 2;
    private const int Vector512 = 2;

    private readonly List<byte> bytes = [];

    public int Length => bytes.Count;

    public byte[] ToArray() => [.. bytes];

    public void Align(int boundary)
    {
        while (bytes.Count % boundary != 0) bytes.Add(0xCC);
    }

    /// <summary>vpxord zmm_a, zmm_a, zmm_a.</summary>
    public void Vpxord(int a) => EvexRegister(Map0F, Prefix66, w: 0, Vector512, 0xEF, reg: a, source: a, rm: a);

    /// <summary>vpdpbusd zmm_sum, zmm_unsigned, zmm_signed: sum += Σ4 unsigned bytes · signed bytes, per int32 lane.</summary>
    /// <remarks>The engine's kernels use the memory-broadcast form; this register form measures the instruction's peak
    /// (the benchmarks' <c>InstructionPeak</c>).</remarks>
    public void Vpdpbusd(int sum, int unsignedBytes, int signedBytes) =>
        EvexRegister(Map0F38, Prefix66, w: 0, Vector512, 0x50, reg: sum, source: unsignedBytes, rm: signedBytes);

    /// <summary>vmovdqu32 zmm, [base + displacement].</summary>
    public void LoadZmm(int register, int baseRegister, int displacement) =>
        EvexMemory(Map0F, PrefixF3, w: 0, Vector512, 0x6F, register, baseRegister, displacement);

    /// <summary>vpdpbusd zmm_sum, zmm_unsigned, dword [base + displacement]{1to16}: the four signed bytes at the address
    /// against each lane's four unsigned bytes.</summary>
    public void VpdpbusdBroadcast(int sum, int unsignedBytes, int baseRegister, int displacement) =>
        EvexMemory(Map0F38, Prefix66, w: 0, Vector512, 0x50, sum, baseRegister, displacement, source: unsignedBytes, broadcast: true);

    /// <summary>vmovdqu32 [base + displacement], zmm.</summary>
    public void StoreZmm(int baseRegister, int displacement, int register) =>
        EvexMemory(Map0F, PrefixF3, w: 0, Vector512, 0x7F, register, baseRegister, displacement);

    /// <summary>prefetcht0 [base + index + displacement]; base is not rbp or r13, index not rsp.</summary>
    public void Prefetch0(int baseRegister, int index, sbyte displacement = 0) =>
        bytes.AddRange([(byte)(0x40 | (index >> 3) << 1 | baseRegister >> 3), 0x0F, 0x18, 0x4C, (byte)((index & 7) << 3 | baseRegister & 7), (byte)displacement]);

    /// <summary>add r64, imm32.</summary>
    public void AddImmediate(int register, int value)
    {
        bytes.AddRange([(byte)(0x48 | register >> 3), 0x81, (byte)(0xC0 | register & 7)]);
        bytes.AddRange(BitConverter.GetBytes(value));
    }

    /// <summary>test r64, r64; jz (to a label bound later).</summary>
    public void TestJumpIfZero(int register, out int label)
    {
        bytes.AddRange([(byte)(0x48 | (register >> 3) << 2 | register >> 3), 0x85, (byte)(0xC0 | (register & 7) << 3 | register & 7), 0x0F, 0x84, 0, 0, 0, 0]);
        label = bytes.Count;
    }

    /// <summary>Points the jump that ends at <paramref name="label"/> here.</summary>
    public void Bind(int label)
    {
        var offset = BitConverter.GetBytes(bytes.Count - label);
        for (var i = 0; i < 4; i++) bytes[label - 4 + i] = offset[i];
    }

    /// <summary>dec r64; jnz target.</summary>
    public void DecJumpIfNotZero(int register, int target)
    {
        bytes.AddRange([(byte)(0x48 | register >> 3), 0xFF, (byte)(0xC8 | register & 7), 0x0F, 0x85]);
        bytes.AddRange(BitConverter.GetBytes(target - (bytes.Count + 4)));
    }

    public void VzeroupperRet() => bytes.AddRange([0xC5, 0xF8, 0x77, 0xC3]);

    /// <summary>An EVEX instruction on registers 0-31: reg (ModRM.reg), source (EVEX.vvvv, 0 when unused), rm (ModRM.rm).</summary>
    private void EvexRegister(int map, int prefix, int w, int length, byte opcode, int reg, int source, int rm)
    {
        Evex(map, prefix, w, length, reg, source, rmHigh: rm >> 3 & 1, rmTop: rm >> 4 & 1);
        bytes.Add(opcode);
        bytes.Add((byte)(0xC0 | (reg & 7) << 3 | rm & 7));
    }

    /// <summary>An EVEX instruction with a [base + disp32] operand; base is not rsp, rbp, r12 or r13 (no SIB, no RIP).</summary>
    private void EvexMemory(int map, int prefix, int w, int length, byte opcode, int reg, int baseRegister, int displacement, int source = 0,
        bool broadcast = false)
    {
        Evex(map, prefix, w, length, reg, source, rmHigh: baseRegister >> 3 & 1, rmTop: 0, broadcast);
        bytes.Add(opcode);
        // mod 10: a 32-bit displacement, which EVEX does not scale (only 8-bit ones are).
        bytes.Add((byte)(0x80 | (reg & 7) << 3 | baseRegister & 7));
        bytes.AddRange(BitConverter.GetBytes(displacement));
    }

    /// <summary>The four-byte EVEX prefix; R, X, B, R', vvvv and V' are stored inverted, no masking; b set for a memory
    /// operand broadcast from one element.</summary>
    private void Evex(int map, int prefix, int w, int length, int reg, int source, int rmHigh, int rmTop, bool broadcast = false)
    {
        bytes.Add(0x62);
        bytes.Add((byte)((~reg >> 3 & 1) << 7 | (~rmTop & 1) << 6 | (~rmHigh & 1) << 5 | (~reg >> 4 & 1) << 4 | map));
        bytes.Add((byte)(w << 7 | (~source & 0xF) << 3 | 0x4 | prefix));
        bytes.Add((byte)(length << 5 | (broadcast ? 1 : 0) << 4 | (~source >> 4 & 1) << 3));
    }
}
