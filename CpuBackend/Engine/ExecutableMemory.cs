using System.Runtime.InteropServices;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Machine code written at run time (<see cref="Vnni512Kernels"/>), in pages that are never writable and executable
/// at once: written while read-write, then made read-execute. Linux only; the pages live as long as the process.</summary>
internal static unsafe partial class ExecutableMemory
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapPrivate = 0x02, MapAnonymous = 0x20;

    /// <summary>The address of a copy of <paramref name="code"/> that may be called; null where the system refuses executable
    /// pages (a hardened kernel's policy), so the caller keeps to code the JIT wrote.</summary>
    public static nint? Load(byte[] code)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var page = Environment.SystemPageSize;
        var length = (nuint)((code.Length + page - 1) / page * page);
        var memory = Mmap(null, length, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (memory == (void*)-1) return null;
        code.CopyTo(new Span<byte>(memory, code.Length));
        if (Mprotect(memory, length, ProtRead | ProtExec) != 0)
        {
            _ = Munmap(memory, length);
            return null;
        }
        return (nint)memory;
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Mprotect(void* address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);
}
