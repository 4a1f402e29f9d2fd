using GptjAspire.Gateway.Admission;
using GptjAspire.Gateway.Errors;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace GptjAspire.Gateway.Tests.Admission;

/// <summary>The admission decision on a clock the test moves: the drain rate stays at its seed (100 units/s) until the test drains work.</summary>
public sealed class AdmissionQueueTests
{
    readonly FakeTimeProvider _time = new();

    AdmissionQueue Queue(int slots = 64, int queued = 256) => new(Options.Create(new AdmissionOptions
    {
        MaxQueueWait = TimeSpan.FromSeconds(10),
        InitialDrainRate = 100,
        DrainRateWindow = TimeSpan.FromSeconds(10),
        MaxConcurrentRequests = slots,
        MaxQueuedRequests = queued,
    }), _time);

    [Fact]
    public async Task Requests_are_admitted_while_the_admitted_work_drains_within_the_bound()
    {
        var queue = Queue();

        using var first = await queue.EnterAsync(500, CancellationToken.None);
        using var second = await queue.EnterAsync(500, CancellationToken.None); // 1,000 units at 100/s: 10 s, the bound

        Assert.Equal(2, queue.Running);
        Assert.Equal(1_000, queue.OutstandingWork);
    }

    [Fact]
    public async Task A_request_that_would_wait_past_the_bound_is_refused_at_once_with_the_time_until_it_fits()
    {
        var queue = Queue();
        using var first = await queue.EnterAsync(900, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<ApiException>(async () => await queue.EnterAsync(600, CancellationToken.None));

        // 1,500 units at 100/s is 15 s: 5 s past the bound of 10 s.
        Assert.Equal(ApiErrorKind.Overloaded, refused.Kind);
        Assert.Equal(TimeSpan.FromSeconds(5), refused.RetryAfter);
        Assert.Equal(900, queue.OutstandingWork);
        Assert.Equal(1, queue.Running);
    }

    [Fact]
    public async Task Retry_after_is_never_longer_than_the_bound()
    {
        var queue = Queue();
        using var first = await queue.EnterAsync(900, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<ApiException>(async () => await queue.EnterAsync(1_000_000, CancellationToken.None));

        Assert.Equal(TimeSpan.FromSeconds(10), refused.RetryAfter);
    }

    [Fact]
    public async Task An_idle_gateway_admits_a_request_larger_than_the_bound_allows()
    {
        var queue = Queue();

        using var large = await queue.EnterAsync(1_000_000, CancellationToken.None);

        Assert.Equal(1, queue.Running);
    }

    [Fact]
    public async Task Retry_after_follows_the_measured_drain_rate()
    {
        var queue = Queue();
        // Predicted 2 s, below a quarter of the bound: it teaches the rate, not the margin.
        var done = await queue.EnterAsync(200, CancellationToken.None);
        using var running = await queue.EnterAsync(100, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(1));
        done.Completed();
        done.Dispose();
        var rate = queue.DrainRate;

        var refused = await Assert.ThrowsAsync<ApiException>(async () => await queue.EnterAsync(2_500, CancellationToken.None));

        Assert.True(rate > 110, $"rate {rate}: 200 units in 1 s must raise the seed of 100/s");
        Assert.Equal(1, queue.Margin);
        var expected = (100 + 2_500) / rate - 10;
        Assert.Equal(expected, refused.RetryAfter!.Value.TotalSeconds, 6);
    }

    [Fact]
    public async Task Requests_that_took_longer_than_predicted_make_admission_stricter()
    {
        var queue = Queue();
        // Predicted 3 s (300 units at 100/s, under load by the margin's measure: at least a quarter of the bound), done after 6 s.
        var slow = await queue.EnterAsync(300, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(6));
        slow.Completed();
        slow.Dispose();
        var rate = queue.DrainRate;
        var margin = queue.Margin;
        using var held = await queue.EnterAsync(1, CancellationToken.None);

        // 8 s at the measured rate: under the bound of 10 s, but not once stretched by the margin.
        var refused = await Assert.ThrowsAsync<ApiException>(async () => await queue.EnterAsync((long)(8 * rate) - 1, CancellationToken.None));

        Assert.True(margin > 1.25, $"margin {margin}");
        Assert.Equal(ApiErrorKind.Overloaded, refused.Kind);
        Assert.Equal(Math.Max(1, 8 * margin - 10), refused.RetryAfter!.Value.TotalSeconds, 1);
    }

    [Fact]
    public async Task A_failed_generation_does_not_count_as_drained_work()
    {
        var queue = Queue();
        var failed = await queue.EnterAsync(900, CancellationToken.None);
        var before = queue.DrainRate;

        failed.Dispose();

        Assert.Equal(before, queue.DrainRate, 9);
        Assert.Equal(0, queue.OutstandingWork);
    }

    [Fact]
    public async Task A_generation_that_ended_early_counts_the_work_it_had_done_and_never_more_than_admitted()
    {
        var stopped = Queue();
        var stoppedEarly = await stopped.EnterAsync(900, CancellationToken.None);
        var overstated = Queue();
        var overstatedEarly = await overstated.EnterAsync(900, CancellationToken.None);
        var completed = Queue();
        var completedWhole = await completed.EnterAsync(900, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));

        stoppedEarly.PartlyCompleted(300);
        stoppedEarly.Dispose();
        overstatedEarly.PartlyCompleted(5_000);
        overstatedEarly.Dispose();
        completedWhole.Completed();
        completedWhole.Dispose();

        // The seed weighs 1 s of busy time at 100/s; 3 s of busy time decay both sums by e^-0.3 and add to the time.
        var decay = Math.Exp(-0.3);
        var busy = decay + 10 * (1 - decay);
        Assert.Equal((100 * decay + 300) / busy, stopped.DrainRate, 6);
        Assert.Equal((100 * decay + 900) / busy, overstated.DrainRate, 6);
        Assert.Equal(completed.DrainRate, overstated.DrainRate, 9);
        Assert.Equal(0, stopped.OutstandingWork);
    }

    [Fact]
    public async Task A_request_still_waiting_for_a_slot_when_the_bound_expires_is_refused_then()
    {
        var queue = Queue(slots: 1);
        using var running = await queue.EnterAsync(100, CancellationToken.None);
        var waiting = queue.EnterAsync(100, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, queue.Waiting);

        _time.Advance(TimeSpan.FromSeconds(10));

        var refused = await Assert.ThrowsAsync<ApiException>(() => waiting);
        Assert.Equal(ApiErrorKind.Overloaded, refused.Kind);
        Assert.NotNull(refused.RetryAfter);
        Assert.Equal(0, queue.Waiting);
        Assert.Equal(100, queue.OutstandingWork);
    }

    [Fact]
    public async Task A_freed_slot_goes_to_the_longest_waiting_request()
    {
        var queue = Queue(slots: 1);
        var running = await queue.EnterAsync(100, CancellationToken.None);
        var first = queue.EnterAsync(100, CancellationToken.None).AsTask();
        var second = queue.EnterAsync(100, CancellationToken.None).AsTask();

        running.Dispose();
        using var admitted = await first;

        Assert.False(second.IsCompleted);
        Assert.Equal(1, queue.Running);
        Assert.Equal(1, queue.Waiting);
        admitted.Dispose();
        (await second).Dispose();
        Assert.Equal(0, queue.Running);
    }

    [Fact]
    public async Task A_request_cancelled_while_waiting_gives_up_its_place_and_its_work()
    {
        var queue = Queue(slots: 1);
        var running = await queue.EnterAsync(100, CancellationToken.None);
        using var leaving = new CancellationTokenSource();
        var waiting = queue.EnterAsync(300, leaving.Token).AsTask();
        var behind = queue.EnterAsync(200, CancellationToken.None).AsTask();

        await leaving.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(1, queue.Waiting);
        Assert.Equal(300, queue.OutstandingWork);
        running.Dispose();
        (await behind).Dispose();
        Assert.Equal(0, queue.Running);
        Assert.Equal(0, queue.OutstandingWork);
    }

    [Fact]
    public async Task Beyond_the_waiting_cap_a_request_is_refused_whatever_the_estimate()
    {
        var queue = Queue(slots: 1, queued: 0);
        using var running = await queue.EnterAsync(1, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<ApiException>(async () => await queue.EnterAsync(1, CancellationToken.None));

        Assert.Equal(ApiErrorKind.Overloaded, refused.Kind);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.RetryAfter);
    }

    [Fact]
    public async Task A_request_takes_a_slot_per_backend_request_and_waits_until_they_are_all_free()
    {
        var queue = Queue(slots: 4);
        var three = await queue.EnterAsync(10, 3, CancellationToken.None);
        var two = queue.EnterAsync(10, 2, CancellationToken.None).AsTask();
        var one = queue.EnterAsync(10, 1, CancellationToken.None).AsTask();

        // One slot is free, but the request first in line needs two, and the one behind it does not overtake it.
        Assert.Equal(3, queue.Running);
        Assert.Equal(2, queue.Waiting);
        Assert.False(two.IsCompleted || one.IsCompleted);
        three.Dispose();

        using var admittedTwo = await two;
        using var admittedOne = await one;
        Assert.Equal(3, queue.Running);
        Assert.Equal(0, queue.Waiting);
    }

    [Fact]
    public async Task A_request_making_more_backend_requests_than_there_are_slots_takes_them_all()
    {
        var queue = Queue(slots: 4);

        var all = await queue.EnterAsync(10, 16, CancellationToken.None);
        var next = queue.EnterAsync(10, 1, CancellationToken.None).AsTask();

        Assert.Equal(4, queue.Running);
        Assert.False(next.IsCompleted);
        all.Dispose();
        (await next).Dispose();
        Assert.Equal(0, queue.Running);
    }

    [Fact]
    public async Task A_large_request_that_leaves_the_line_lets_the_smaller_ones_behind_it_in()
    {
        var queue = Queue(slots: 4);
        using var running = await queue.EnterAsync(10, 2, CancellationToken.None);
        using var leaving = new CancellationTokenSource();
        var large = queue.EnterAsync(10, 4, leaving.Token).AsTask();
        var small = queue.EnterAsync(10, 2, CancellationToken.None).AsTask();

        await leaving.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => large);
        using var admitted = await small;
        Assert.Equal(4, queue.Running);
    }

    [Fact]
    public async Task Disposing_an_admission_twice_frees_its_slot_once()
    {
        var queue = Queue(slots: 2);
        var first = await queue.EnterAsync(1, CancellationToken.None);
        using var second = await queue.EnterAsync(1, CancellationToken.None);

        first.Dispose();
        first.Dispose();

        Assert.Equal(1, queue.Running);
        Assert.Equal(1, queue.OutstandingWork);
    }
}
