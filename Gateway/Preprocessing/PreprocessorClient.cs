using System.Runtime.CompilerServices;
using GptjAspire.Gateway.Errors;
using GptjAspire.Gptj.V1;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace GptjAspire.Gateway.Preprocessing;

/// <summary>Calls the Preprocessor's gptj.v1 API and turns its gRPC failures into <see cref="ApiException"/>s in the caller's field names.</summary>
public sealed class PreprocessorClient(Gptj.V1.Preprocessor.PreprocessorClient client, IOptions<GatewayOptions> options)
{
    /// <summary>Discovery key of the Preprocessor's gRPC endpoint (Aspire's <c>services__preprocessor__grpc__0</c>).</summary>
    public const string AddressKey = "services:preprocessor:grpc:0";

    /// <summary>The largest answer read from the Preprocessor: what it may send (its <c>MaxMessageBytes</c>). Left at gRPC's
    /// 4 MB default, a long completion or detokenized text failed here as RESOURCE_EXHAUSTED, which reads as "overloaded".</summary>
    public const int MaxResponseBytes = 16 * 1024 * 1024;

    /// <summary>The Preprocessor as service discovery names it: endpoint "grpc" of service "preprocessor".</summary>
    public static readonly Uri Address = new("http://_grpc.preprocessor");

    static readonly IReadOnlyDictionary<string, string> NoRenames = new Dictionary<string, string>();

    public async Task<GenerateResponse> GenerateAsync(
        GenerateRequest request, IReadOnlyDictionary<string, string> fieldNames, CancellationToken cancellationToken)
    {
        using var call = client.GenerateAsync(request, Generation(cancellationToken));
        try
        {
            return await call.ResponseAsync;
        }
        catch (RpcException e)
        {
            throw Translate(e, fieldNames, cancellationToken);
        }
    }

    /// <summary>Streams deltas then the summary; disposing the enumeration early cancels the call (and the generation behind it).</summary>
    public async IAsyncEnumerable<GenerateStreamResponse> GenerateStreamAsync(
        GenerateRequest request, IReadOnlyDictionary<string, string> fieldNames,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var call = client.GenerateStream(request, Generation(cancellationToken));
        while (true)
        {
            try
            {
                if (!await call.ResponseStream.MoveNext(cancellationToken))
                    yield break;
            }
            catch (RpcException e)
            {
                throw Translate(e, fieldNames, cancellationToken);
            }
            yield return call.ResponseStream.Current;
        }
    }

    /// <summary>The token ids of <paramref name="text"/> after NFC normalization, as generation tokenizes a prompt.</summary>
    public async Task<IReadOnlyList<int>> TokenizeAsync(string text, IReadOnlyDictionary<string, string> fieldNames, CancellationToken cancellationToken)
    {
        using var call = client.TokenizeAsync(new TokenizeRequest { Text = text }, Generation(cancellationToken));
        try
        {
            return (await call.ResponseAsync).TokenIds;
        }
        catch (RpcException e)
        {
            throw Translate(e, fieldNames, cancellationToken);
        }
    }

    public async Task<string> DetokenizeAsync(IEnumerable<int> tokenIds, CancellationToken cancellationToken)
    {
        var request = new DetokenizeRequest();
        request.TokenIds.AddRange(tokenIds);
        using var call = client.DetokenizeAsync(request, Generation(cancellationToken));
        try
        {
            return (await call.ResponseAsync).Text;
        }
        catch (RpcException e)
        {
            throw Translate(e, NoRenames, cancellationToken);
        }
    }

    public async Task<ModelInfo> GetModelInfoAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var call = client.GetModelInfoAsync(new GetModelInfoRequest(),
            new CallOptions(deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken));
        try
        {
            return await call.ResponseAsync;
        }
        catch (RpcException e)
        {
            throw Translate(e, NoRenames, cancellationToken);
        }
    }

    CallOptions Generation(CancellationToken cancellationToken) =>
        new(deadline: DateTime.UtcNow + options.Value.RequestTimeout, cancellationToken: cancellationToken);

    static Exception Translate(RpcException error, IReadOnlyDictionary<string, string> fieldNames, CancellationToken cancellationToken)
    {
        // The caller went away: there is nobody to tell, just unwind.
        if (cancellationToken.IsCancellationRequested)
            return new OperationCanceledException("The client cancelled the request.", error, cancellationToken);
        return ApiErrorMapping.FromRpc(error, fieldNames);
    }
}
