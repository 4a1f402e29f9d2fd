using GptjAspire.TritonClient.Protocol;

namespace GptjAspire.CpuBackend.Generation;

/// <summary>Triton's statistics extension for one loaded model: cumulative counts and durations, read through
/// <c>ModelStatistics</c> and <c>GET /v2/models/{name}/stats</c> (perf_analyzer reads them before and after each measurement
/// window). The scheduler records the queue and the model's run; the server records whole requests, inputs and outputs.</summary>
/// <remarks>Each total is added atomically on its own, so a reader may see one request's count before its duration,
/// as with Triton's own counters.</remarks>
public sealed class ModelStatisticsRecorder(TimeProvider time)
{
    readonly Total _success = new(), _fail = new(), _queue = new(), _computeInput = new(), _computeInfer = new(), _computeOutput = new();
    long _inferenceCount, _executionCount, _lastInferenceMs;

    /// <summary>A request whose last response was sent; <paramref name="rows"/> is its batch size (Triton's inference count).</summary>
    public void Succeeded(TimeSpan total, int rows)
    {
        _success.Add(total);
        Interlocked.Add(ref _inferenceCount, rows);
        Interlocked.Increment(ref _executionCount);
        Interlocked.Exchange(ref _lastInferenceMs, time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary>A request that ended with an error, its inputs refused included.</summary>
    public void Failed(TimeSpan total)
    {
        _fail.Add(total);
        Interlocked.Exchange(ref _lastInferenceMs, time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary>Time from arrival at the scheduler to joining the batch.</summary>
    public void Queued(TimeSpan waited) => _queue.Add(waited);

    /// <summary>Reading and checking the input tensors.</summary>
    public void InputRead(TimeSpan duration) => _computeInput.Add(duration);

    /// <summary>The model's part of a request: from joining the batch to its last token.</summary>
    public void Generated(TimeSpan duration) => _computeInfer.Add(duration);

    /// <summary>Building output tensors.</summary>
    public void OutputWritten(TimeSpan duration) => _computeOutput.Add(duration);

    public ModelStatistics Snapshot(string name, string version) => new()
    {
        Name = name,
        Version = version,
        LastInference = (ulong)Interlocked.Read(ref _lastInferenceMs),
        InferenceCount = (ulong)Interlocked.Read(ref _inferenceCount),
        ExecutionCount = (ulong)Interlocked.Read(ref _executionCount),
        InferenceStats = new InferStatistics
        {
            Success = _success.Read(),
            Fail = _fail.Read(),
            Queue = _queue.Read(),
            ComputeInput = _computeInput.Read(),
            ComputeInfer = _computeInfer.Read(),
            ComputeOutput = _computeOutput.Read(),
            CacheHit = new StatisticDuration(),
            CacheMiss = new StatisticDuration(),
        },
    };

    sealed class Total
    {
        long _count, _ticks;

        public void Add(TimeSpan duration)
        {
            Interlocked.Increment(ref _count);
            Interlocked.Add(ref _ticks, Math.Max(0, duration.Ticks));
        }

        public StatisticDuration Read() => new()
        {
            Count = (ulong)Interlocked.Read(ref _count),
            Ns = (ulong)Interlocked.Read(ref _ticks) * (ulong)(1_000_000_000 / TimeSpan.TicksPerSecond),
        };
    }
}
