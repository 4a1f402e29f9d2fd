using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Security;

/// <summary>The configured keys, held only as SHA-256 digests, and the constant-time check of a presented key against them.</summary>
public sealed class ApiKeyRing
{
    readonly byte[][] _digests;

    public ApiKeyRing(IOptions<ApiKeyOptions> options) =>
        _digests = [.. options.Value.AllKeys().Distinct(StringComparer.Ordinal).Select(Digest)];

    /// <summary>False when no key is configured: the API is then open to everyone.</summary>
    public bool Enabled => _digests.Length > 0;

    /// <summary>Names the key that matches <paramref name="presented"/> (<c>key-0</c>, <c>key-1</c>, ...), or null.</summary>
    /// <remarks>
    /// Comparing fixed-length digests hides the keys' lengths, FixedTimeEquals hides how many bytes matched, and
    /// every key is compared so the time does not tell which one matched. The name is safe to log and to key rate
    /// limits by; the key itself never leaves this method.
    /// </remarks>
    public string? Identify(string presented)
    {
        var digest = Digest(presented);
        var match = -1;
        for (var i = 0; i < _digests.Length; i++)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, _digests[i]))
                match = i;
        }
        return match < 0 ? null : $"key-{match}";
    }

    static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
