using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gateway.Security;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.RateLimiting;

/// <summary>Each caller's requests and generated tokens per minute, one <see cref="PerMinuteBucket"/> per caller and limit,
/// and its requests in progress.</summary>
public sealed class CallerLimits : IDisposable
{
    readonly Limit? _requests;
    readonly Limit? _tokens;
    readonly InProgressLimit? _inProgress;

    public CallerLimits(IOptions<RateLimitOptions> options, TimeProvider time)
    {
        _requests = Limit.Create("requests", options.Value.RequestsPerMinute, ApiErrorKind.RequestRateLimited, time);
        _tokens = Limit.Create("tokens", options.Value.TokensPerMinute, ApiErrorKind.TokenRateLimited, time);
        _inProgress = InProgressLimit.Create(options.Value.ConcurrentRequests);
    }

    /// <summary>Counts one request against its caller, in progress until the response has been sent and per minute; throws
    /// the 429 when the caller has as many in progress as it may, or none left this minute.</summary>
    public void ChargeRequest(HttpContext http)
    {
        var caller = Caller(http);
        _inProgress?.Enter(http, caller);
        _tokens?.WriteHeaders(http, caller);
        _requests?.Charge(http, caller, 1, "requests").Dispose();
    }

    /// <summary>Counts the most tokens a request can generate; throws the 429 when they do not fit in what is left.</summary>
    public TokenCharge ChargeTokens(HttpContext http, long tokens, string param)
    {
        if (_tokens is not { } limit)
            return TokenCharge.None;
        if (tokens > limit.PerMinute)
            throw ApiException.Invalid(param,
                $"This request may generate {tokens} tokens, more than the {limit.PerMinute} allowed per minute; ask for fewer.");
        var charge = limit.Charge(http, Caller(http), (int)tokens, "tokens");
        return TokenCharge.Of(() => limit.Refund(http, charge));
    }

    public void Dispose()
    {
        _requests?.Dispose();
        _tokens?.Dispose();
        _inProgress?.Dispose();
    }

    static string Caller(HttpContext http) =>
        http.User.FindFirstValue(ApiKeyAuthentication.CallerClaim)
        ?? throw new InvalidOperationException("Rate limits apply only to endpoints that require the API key policy.");

    sealed class Limit(string name, int perMinute, ApiErrorKind kind, PartitionedRateLimiter<string> buckets) : IDisposable
    {
        public int PerMinute => perMinute;

        public static Limit? Create(string name, int perMinute, ApiErrorKind kind, TimeProvider time) => perMinute == 0 ? null
            : new(name, perMinute, kind, PartitionedRateLimiter.Create<string, string>(caller =>
                RateLimitPartition.Get(caller, _ => new PerMinuteBucket(perMinute, time))));

        /// <summary>Takes <paramref name="permits"/> from the caller's bucket and returns the lease, which can refund them;
        /// throws the 429 when they do not fit.</summary>
        public RateLimitLease Charge(HttpContext http, string caller, int permits, string unit)
        {
            var lease = buckets.AttemptAcquire(caller, permits);
            Write(http, lease);
            if (!lease.IsAcquired)
            {
                lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter);
                lease.Dispose();
                throw new ApiException(kind,
                    $"Rate limit reached: {perMinute} {unit} per minute for this caller. Retry after {Math.Ceiling(retryAfter.TotalSeconds)} s.")
                { RetryAfter = retryAfter };
            }
            return lease;
        }

        /// <summary>Gives back what <paramref name="charge"/> took, and tells the caller what it has left now.</summary>
        public void Refund(HttpContext http, RateLimitLease charge)
        {
            using var after = PerMinuteBucket.Refund(charge);
            if (after is not null)
                Write(http, after);
        }

        /// <summary>The headers without charging anything (a zero-permit attempt only reads the bucket).</summary>
        public void WriteHeaders(HttpContext http, string caller)
        {
            using var lease = buckets.AttemptAcquire(caller, 0);
            Write(http, lease);
        }

        void Write(HttpContext http, RateLimitLease lease)
        {
            lease.TryGetMetadata(RateLimitMetadata.Remaining, out var remaining);
            lease.TryGetMetadata(RateLimitMetadata.Reset, out var reset);
            var headers = http.Response.Headers;
            headers[$"x-ratelimit-limit-{name}"] = perMinute.ToString(CultureInfo.InvariantCulture);
            headers[$"x-ratelimit-remaining-{name}"] = remaining.ToString(CultureInfo.InvariantCulture);
            headers[$"x-ratelimit-reset-{name}"] = RateLimitHeaders.Duration(reset);
        }

        public void Dispose() => buckets.Dispose();
    }

    sealed class InProgressLimit(int most, PartitionedRateLimiter<string> callers) : IDisposable
    {
        public static InProgressLimit? Create(int most) => most == 0 ? null
            : new(most, PartitionedRateLimiter.Create<string, string>(caller =>
                RateLimitPartition.GetConcurrencyLimiter(caller, _ => new ConcurrencyLimiterOptions { PermitLimit = most, QueueLimit = 0 })));

        /// <summary>Holds one of the caller's places until the request ends, whichever way it ends (the response sent, the
        /// client gone, an error); throws the 429 when the caller has none free.</summary>
        public void Enter(HttpContext http, string caller)
        {
            var place = callers.AttemptAcquire(caller);
            if (!place.IsAcquired)
            {
                place.Dispose();
                throw new ApiException(ApiErrorKind.ConcurrencyLimited,
                    $"Too many requests in progress: at most {most} at once for this caller. Retry when one of them has finished.");
            }
            http.Response.RegisterForDispose(place);
        }

        public void Dispose() => callers.Dispose();
    }
}
