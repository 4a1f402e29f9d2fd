namespace GptjAspire.Gateway.Admission;

/// <summary>How much longer admitted requests take than the drain rate predicted: a factor of at least 1 by which
/// <see cref="AdmissionQueue"/> stretches its predictions, learned from requests that finished. Not thread-safe; the
/// queue calls it under its lock.</summary>
/// <remarks>At the admission bound every admitted request is predicted to finish near the bound, so the spread of the
/// real times around the prediction (requests ahead that run longer than average, a backend slowed by its neighbours)
/// decides whether they finish under it. The factor is an exponentially weighted mean of actual ÷ predicted plus two
/// standard deviations, so about 97% of requests finish within the stretched prediction when the ratios are roughly
/// normal.</remarks>
public sealed class PredictionMargin
{
    // About the last 20 observations weigh; a changed backend is learned within a few dozen requests.
    const double Weight = 0.05;
    const double Deviations = 2;

    double _mean = 1;
    double _variance;

    /// <summary>The factor to multiply a predicted time by.</summary>
    public double Factor => Math.Max(1, _mean + Deviations * Math.Sqrt(_variance));

    /// <summary>Counts a finished request that took <paramref name="actualSeconds"/> where <paramref name="predictedSeconds"/> were predicted.</summary>
    public void Observe(double predictedSeconds, double actualSeconds)
    {
        var ratio = actualSeconds / predictedSeconds;
        var deviation = ratio - _mean;
        _mean += Weight * deviation;
        _variance = (1 - Weight) * (_variance + Weight * deviation * deviation);
    }
}
