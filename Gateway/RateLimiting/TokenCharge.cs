using GptjAspire.Gateway.Errors;

namespace GptjAspire.Gateway.RateLimiting;

/// <summary>The tokens one request was charged up front (<see cref="CallerLimits.ChargeTokens"/>), given back when the
/// request is refused before it generates anything.</summary>
public sealed class TokenCharge
{
    readonly Action? _refund;

    TokenCharge(Action? refund) => _refund = refund;

    /// <summary>A charge of nothing, where the caller has no token limit.</summary>
    public static TokenCharge None { get; } = new(null);

    /// <param name="refund">Gives the tokens back (at most once) and updates the response's headers.</param>
    public static TokenCharge Of(Action refund) => new(refund);

    /// <summary>Gives the tokens back when <paramref name="failure"/> refused the request before any generation: the caller's
    /// mistake (a field or prompt the Gateway or the Preprocessor refused, another model) or a full queue, the Gateway's or
    /// one behind it. Other failures (a timeout, a backend that failed or went away) can come after tokens were generated,
    /// and keep the charge.</summary>
    public void RefundIfRefused(ApiException failure)
    {
        if (failure.Kind is ApiErrorKind.InvalidRequest or ApiErrorKind.ModelNotFound or ApiErrorKind.Overloaded)
            _refund?.Invoke();
    }
}
