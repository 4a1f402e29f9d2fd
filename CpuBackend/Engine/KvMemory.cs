using System.Runtime.InteropServices;

namespace GptjAspire.CpuBackend.Engine;

/// <summary>Native memory holding one cache's own keys and values: in 2 MiB pages on Linux (<c>MADV_HUGEPAGE</c>), and
/// kept by the model's <see cref="KvMemoryPool"/> for the next cache of the same size when no cache or fork refers to it
/// any more.</summary>
/// <remarks>
/// <para>A request's cache is sized for all its positions and touched at once (<see cref="KvCache.Fork(int)"/>). As
/// managed arrays that was 164 MB of fresh 4 KiB pages for each seed request of the mid-size model (ten samples of 256
/// positions), and on the 2-vCPU VM, where a page fault is a trap to the hypervisor, faulting them in took 450-510 ms of
/// a 4 s request. There 256 MB of 4 KiB pages faulted in 0.9 s, of 2 MiB pages in 23-29 ms, and memory already resident
/// costs nothing: the next request's caches have the sizes of the last one's.</para>
/// <para>A fork reads its parent's rows in place, so a block is owned by whichever rows refer to it and given back by the
/// finalizer when nothing refers to it. That waits for a collection of the old generation, which came two or three seed
/// requests later; the scheduler therefore releases a finished request's caches (the prompt's and all its forks together)
/// at once (<see cref="Release"/>), and the rows refuse to be read or written after that.</para>
/// <para><see cref="GC.AddMemoryPressure"/> counts the blocks taken from the OS and not yet given back (in use or kept by
/// the pool), so that a program that drops caches without releasing them still has the collector run their finalizers.
/// Until 27 Nov every cache added its block's size and took it off again at release: at a thousand requests a second
/// through the Gateway, that turnover of a few hundred MB a second of "new" pressure had the runtime start a background
/// gen2 collection whenever its 20% duty-cycle cap allowed, 915 of them in one `gateway --processes` run against 3
/// without, their threads taking about a tenth of the 2-core machine (`perf sched`: 274 ms of 3 s).</para>
/// </remarks>
internal sealed unsafe partial class KvMemory
{
    private const long HugePage = 2 << 20;
    private const int CacheLine = 64;
    private const int MadviseHugePage = 14; // MADV_HUGEPAGE on Linux

    private static bool noMadvise; // set when madvise cannot be called here

    private readonly KvMemoryPool pool;
    private readonly long size;
    private int released;

    public KvMemory(long bytes, KvMemoryPool pool)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        this.pool = pool;
        size = SizeFor(bytes);
        Pointer = (byte*)pool.Take(size);
        if (Pointer == null)
        {
            Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)size, (nuint)(size >= HugePage ? HugePage : CacheLine));
            GC.AddMemoryPressure(size);
            if (size >= HugePage) AdviseHugePages(Pointer, size);
        }
    }

    ~KvMemory()
    {
        if (Pointer == null || released != 0)
            return; // the constructor threw (a negative size, or no memory), so nothing was taken; or released already
        GiveBack();
    }

    public byte* Pointer { get; }

    /// <summary>True once <see cref="Release"/> has given the block to the pool: nothing may read or write it any more.</summary>
    public bool Released => Volatile.Read(ref released) != 0;

    /// <summary>Gives the block to the pool now rather than after a collection. Only for a block that nothing will read
    /// again: the scheduler releases a request's caches when the request has finished, on its loop thread, between steps.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref released, 1) != 0)
            return;
        GC.SuppressFinalize(this);
        GiveBack();
    }

    private void GiveBack()
    {
        if (!pool.Keep((nint)Pointer, size)) Free((nint)Pointer, size);
    }

    /// <summary>Gives a block of <paramref name="size"/> bytes back to the OS.</summary>
    public static void Free(nint block, long size)
    {
        NativeMemory.AlignedFree((void*)block);
        GC.RemoveMemoryPressure(size);
    }

    /// <summary>The size of the block that holds <paramref name="bytes"/>: blocks of 2 MiB or more are whole 2 MiB pages.</summary>
    public static long SizeFor(long bytes) => bytes >= HugePage ? (bytes + HugePage - 1) / HugePage * HugePage : Math.Max(bytes, CacheLine);

    /// <summary>Only advice: where the kernel has no transparent huge pages, or the C library cannot be found under that
    /// name (a libc other than glibc), the memory is simply in 4 KiB pages.</summary>
    private static void AdviseHugePages(byte* block, long bytes)
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref noMadvise)) return;
        try
        {
            _ = Madvise(block, (nuint)bytes, MadviseHugePage);
        }
        catch (Exception error) when (error is DllNotFoundException or EntryPointNotFoundException)
        {
            Volatile.Write(ref noMadvise, true);
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
