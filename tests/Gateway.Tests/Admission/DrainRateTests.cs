using GptjAspire.Gateway.Admission;
using Microsoft.Extensions.Time.Testing;

namespace GptjAspire.Gateway.Tests.Admission;

public sealed class DrainRateTests
{
    static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    [Fact]
    public void Estimate_starts_from_the_configured_seed()
    {
        var rate = new DrainRate(250, Window, new FakeTimeProvider());

        Assert.Equal(250, rate.UnitsPerSecond, 9);
    }

    [Fact]
    public void Steady_draining_replaces_the_seed_with_the_measured_rate()
    {
        var time = new FakeTimeProvider();
        var rate = new DrainRate(100, Window, time);
        rate.SetBusy(true);

        // 2,000 units every half second for ten windows: 4,000 units/s.
        for (var i = 0; i < 200; i++)
        {
            time.Advance(TimeSpan.FromSeconds(0.5));
            rate.Drained(2_000);
        }

        Assert.InRange(rate.UnitsPerSecond, 3_900, 4_300);
    }

    [Fact]
    public void Estimate_follows_a_backend_that_slows_down_within_a_few_windows()
    {
        var time = new FakeTimeProvider();
        var rate = new DrainRate(4_000, Window, time);
        rate.SetBusy(true);
        for (var i = 0; i < 100; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            rate.Drained(4_000);
        }

        for (var i = 0; i < 50; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            rate.Drained(500);
        }

        Assert.InRange(rate.UnitsPerSecond, 450, 600);
    }

    [Fact]
    public void Idle_time_neither_lowers_nor_raises_the_estimate()
    {
        var time = new FakeTimeProvider();
        var rate = new DrainRate(100, Window, time);
        rate.SetBusy(true);
        time.Advance(TimeSpan.FromSeconds(2));
        rate.Drained(1_000);
        var measured = rate.UnitsPerSecond;

        rate.SetBusy(false);
        time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(measured, rate.UnitsPerSecond, 9);
    }

    [Fact]
    public void Estimate_holds_the_seed_until_the_first_request_finishes()
    {
        var time = new FakeTimeProvider();
        var rate = new DrainRate(1_000, Window, time);
        rate.SetBusy(true);

        time.Advance(Window * 5);

        Assert.Equal(1_000, rate.UnitsPerSecond, 9);
    }

    [Fact]
    public void The_busy_time_before_the_first_finished_request_counts_once_it_finishes()
    {
        var time = new FakeTimeProvider();
        var rate = new DrainRate(1_000, Window, time);
        rate.SetBusy(true);
        time.Advance(TimeSpan.FromSeconds(20));

        rate.Drained(2_000);

        // The decayed sums hold about one window of busy time: 2,000 units over some 9 s, with what is left of the seed.
        Assert.InRange(rate.UnitsPerSecond, 100, 250);
    }

    [Fact]
    public void A_backend_that_stops_draining_drives_the_estimate_towards_zero()
    {
        var time = new FakeTimeProvider();
        var rate = new DrainRate(1_000, Window, time);
        rate.SetBusy(true);
        time.Advance(TimeSpan.FromSeconds(1));
        rate.Drained(1_000);

        time.Advance(Window * 5);

        Assert.True(rate.UnitsPerSecond < 10, $"rate {rate.UnitsPerSecond}");
    }
}

public sealed class PredictionMarginTests
{
    [Fact]
    public void Margin_starts_at_one()
    {
        Assert.Equal(1, new PredictionMargin().Factor);
    }

    [Fact]
    public void Requests_that_take_longer_than_predicted_stretch_later_predictions_beyond_their_mean()
    {
        var margin = new PredictionMargin();

        for (var i = 0; i < 200; i++)
            margin.Observe(20, i % 2 == 0 ? 22 : 26); // 1.1 and 1.3 times the prediction

        Assert.InRange(margin.Factor, 1.3, 1.45);
    }

    [Fact]
    public void Requests_that_finish_early_never_shrink_predictions()
    {
        var margin = new PredictionMargin();

        for (var i = 0; i < 200; i++)
            margin.Observe(20, 10);

        Assert.Equal(1, margin.Factor);
    }
}
