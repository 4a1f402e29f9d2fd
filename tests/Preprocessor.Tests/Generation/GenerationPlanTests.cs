using System.Text;
using GptjAspire.Gptj.V1;
using Grpc.Core;
using GptjAspire.Preprocessor.Backend;
using GptjAspire.Preprocessor.Generation;

namespace GptjAspire.Preprocessor.Tests.Generation;

public sealed class GenerationPlanTests
{
    static readonly ModelLimits Limits = ModelLimits.Resolve(TinyModel.ContextLength, new PreprocessorOptions { MaxSamples = 8 }, null);

    static GenerationPlan Create(GenerateRequest request) =>
        GenerationPlan.Create(request, TinyModel.Tokenizer, Limits);

    static (string Field, string Message) Rejection(GenerateRequest request) => RejectionUnder(Limits, request);

    static (string Field, string Message) RejectionUnder(ModelLimits limits, GenerateRequest request)
    {
        var error = Assert.Throws<RpcException>(() => GenerationPlan.Create(request, TinyModel.Tokenizer, limits));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var violation = Assert.Single(error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations);
        return (violation.Field, error.Status.Detail);
    }

    [Fact]
    public void A_prompt_and_a_stop_holding_U_FFFE_are_normalized_around_it()
    {
        // .NET's normalization refuses U+FFFE, which the Gateway passes on as valid text: this was a PREPROCESSOR_FAILED.
        var plan = Create(new GenerateRequest { Prompt = "ab\uFFFEe\u0301", Stop = { "\uFFFEe\u0301" } });

        Assert.Equal("ab\uFFFE\u00e9", plan.Prompt);
        Assert.Equal(["\uFFFE\u00e9"], plan.Stop);
    }

    [Fact]
    public void Limits_tighter_than_the_context_cap_the_prompt_and_the_new_tokens()
    {
        var limits = ModelLimits.Resolve(TinyModel.ContextLength, new PreprocessorOptions { MaxNewTokens = 5, MaxPromptTokens = 6 }, null);

        Assert.Equal(5, GenerationPlan.Create(new GenerateRequest { Prompt = "abcd" }, TinyModel.Tokenizer, limits).MaxNewTokens);
        Assert.Equal("max_new_tokens", RejectionUnder(limits, new GenerateRequest { Prompt = "abcd", MaxNewTokens = 6 }).Field);
        Assert.Equal(("prompt", "The prompt is 7 tokens; at most 6 are allowed."), RejectionUnder(limits, new GenerateRequest { Prompt = "abcdefg" }));
    }

    [Fact]
    public void Samples_that_together_need_more_than_the_backends_kv_cache_are_refused_naming_what_to_lower()
    {
        var limits = ModelLimits.Resolve(TinyModel.ContextLength, new PreprocessorOptions(), new BackendLimits(null, null, null, KvCacheTokens: 50));

        // "abcd" is 4 tokens: 4 + 6 = 10 positions a sample, 5 samples fill the 50 exactly.
        Assert.Equal(5, GenerationPlan.Create(new GenerateRequest { Prompt = "abcd", N = 5, MaxNewTokens = 6 }, TinyModel.Tokenizer, limits).Samples);
        var tooMany = RejectionUnder(limits, new GenerateRequest { Prompt = "abcd", N = 6, MaxNewTokens = 6 });
        Assert.Equal(("n", "6 samples of 10 positions (prompt plus new tokens) need 60 positions of the model's KV cache, which holds 50; ask for at most 5 samples or fewer new tokens."), tooMany);
        var tooLong = RejectionUnder(limits with { KvCacheTokens = 8 }, new GenerateRequest { Prompt = "abcd", MaxNewTokens = 6 });
        Assert.Equal("max_new_tokens", tooLong.Field);
    }

    [Fact]
    public void A_backend_whose_samples_share_the_prompt_is_held_to_prompt_plus_samples_times_new_tokens()
    {
        var limits = ModelLimits.Resolve(TinyModel.ContextLength, new PreprocessorOptions(), new BackendLimits(null, null, null, KvCacheTokens: 34, KvCacheSharesPrompt: true));

        // "abcd" is 4 tokens: 4 + 5 × 6 = 34 positions fit exactly; a copy per sample would need 50.
        Assert.Equal(5, GenerationPlan.Create(new GenerateRequest { Prompt = "abcd", N = 5, MaxNewTokens = 6 }, TinyModel.Tokenizer, limits).Samples);
        Assert.Equal(("n", "6 samples of 6 new tokens after their shared prompt of 4 need 40 positions of the model's KV cache, which holds 34; ask for at most 5 samples or fewer new tokens."),
            RejectionUnder(limits, new GenerateRequest { Prompt = "abcd", N = 6, MaxNewTokens = 6 }));
    }

    [Fact]
    public void The_logit_bias_becomes_one_value_per_row_of_the_models_embedding()
    {
        var limits = Limits with { VocabSize = TinyModel.Tokenizer.VocabSize + 7 };
        var request = new GenerateRequest { Prompt = "a", Sampling = new SamplingParameters { LogitBias = { [3] = -100f, [5] = 2f } } };

        var bias = GenerationPlan.Create(request, TinyModel.Tokenizer, limits).LogitBias!;

        Assert.Equal(TinyModel.Tokenizer.VocabSize + 7, bias.Length);
        Assert.Equal((-100f, 2f, 0f), (bias[3], bias[5], bias[4]));
        Assert.Null(Create(new GenerateRequest { Prompt = "a" }).LogitBias);
        Assert.Equal("logit_bias", RejectionUnder(limits, new GenerateRequest { Prompt = "a", Sampling = new SamplingParameters { LogitBias = { [TinyModel.Tokenizer.VocabSize] = 1f } } }).Field);
        Assert.Equal("logit_bias", RejectionUnder(limits, new GenerateRequest { Prompt = "a", Sampling = new SamplingParameters { LogitBias = { [3] = float.NaN } } }).Field);
    }

    [Fact]
    public void Min_new_tokens_is_kept_within_the_requests_new_token_budget()
    {
        Assert.Equal(3, Create(new GenerateRequest { Prompt = "abcd", MaxNewTokens = 5, MinNewTokens = 3 }).MinNewTokens);
        Assert.Equal(("min_new_tokens", "The minimum number of new tokens must be between 0 and the 5 new tokens this request may generate; got 6."),
            Rejection(new GenerateRequest { Prompt = "abcd", MaxNewTokens = 5, MinNewTokens = 6 }));
        Assert.Equal("min_new_tokens", Rejection(new GenerateRequest { Prompt = "abcd", MinNewTokens = -1 }).Field);
    }

    [Fact]
    public void The_callers_request_id_is_the_plans_and_one_is_made_when_none_is_given()
    {
        Assert.Equal("cmpl-0123456789abcdef0123456789abcdef-1", Create(new GenerateRequest { Prompt = "a", RequestId = "cmpl-0123456789abcdef0123456789abcdef-1" }).RequestId);
        var made = Create(new GenerateRequest { Prompt = "a" }).RequestId;
        Assert.Matches("^[0-9a-f]{32}$", made);
        Assert.NotEqual(made, Create(new GenerateRequest { Prompt = "a" }).RequestId);
        Assert.Equal(new string('é', GenerationPlan.MaxRequestIdLength), Create(new GenerateRequest { Prompt = "a", RequestId = new string('é', GenerationPlan.MaxRequestIdLength) }).RequestId);
    }

    [Theory]
    [InlineData(257, "x", "The request id is 257 characters; at most 256 are allowed.")]
    [InlineData(1, "a\nb", "The request id must not contain control characters; U+000A is at position 1.")]
    [InlineData(1, "ab\u001b[2J", "The request id must not contain control characters; U+001B is at position 2.")]
    [InlineData(1, "a\u0085", "The request id must not contain control characters; U+0085 is at position 1.")]
    public void A_request_id_too_long_or_holding_control_characters_is_refused_naming_it(int repeat, string unit, string message)
    {
        var id = string.Concat(Enumerable.Repeat(System.Text.RegularExpressions.Regex.Unescape(unit), repeat));

        Assert.Equal(("request_id", message), Rejection(new GenerateRequest { Prompt = "a", RequestId = id }));
    }

    [Theory]
    [InlineData(float.NaN, 0f, "presence_penalty")]
    [InlineData(0f, float.PositiveInfinity, "frequency_penalty")]
    public void A_penalty_that_is_not_a_finite_number_is_refused_naming_it(float presence, float frequency, string field)
    {
        var request = new GenerateRequest { Prompt = "a", Sampling = new SamplingParameters { PresencePenalty = presence, FrequencyPenalty = frequency } };

        Assert.Equal(field, Rejection(request).Field);
    }

    [Fact]
    public void Prompt_ids_go_to_the_model_as_they_are_and_their_text_is_the_prompt_to_echo()
    {
        var ids = TinyModel.Tokenizer.Encode("Hà Nội");
        var fromText = Create(new GenerateRequest { Prompt = "Hà Nội", MaxNewTokens = 3 });

        var fromIds = Create(new GenerateRequest { PromptIds = { ids }, MaxNewTokens = 3, Echo = true });

        Assert.Equal(fromText.PromptIds, fromIds.PromptIds);
        Assert.Equal("Hà Nội", fromIds.Prompt);
        Assert.Equal(fromText.MaxNewTokens, fromIds.MaxNewTokens);
    }

    [Fact]
    public void Prompt_ids_are_refused_naming_prompt_ids_outside_the_vocabulary_beside_text_or_beyond_the_context()
    {
        var vocabulary = TinyModel.Tokenizer.VocabSize;

        Assert.Equal(("prompt_ids", $"Token id {vocabulary} at position 1 is outside the tokenizer's vocabulary [0, {vocabulary})."),
            Rejection(new GenerateRequest { PromptIds = { 5, vocabulary } }));
        Assert.Equal("prompt_ids", Rejection(new GenerateRequest { PromptIds = { -1 } }).Field);
        Assert.Equal(("prompt_ids", "Give the prompt as text ('prompt') or as token ids ('prompt_ids'), not both."),
            Rejection(new GenerateRequest { Prompt = "a", PromptIds = { 5 } }));
        Assert.Equal("prompt_ids", Rejection(new GenerateRequest { PromptIds = { Enumerable.Repeat(5, TinyModel.ContextLength) } }).Field);
    }

    [Fact]
    public void Each_stop_is_also_tokenized_on_its_own_for_the_backend()
    {
        var request = new GenerateRequest { Prompt = "abcd", Stop = { "x", "yz" } };

        Assert.Equal([TinyModel.Tokenizer.Encode("x"), TinyModel.Tokenizer.Encode("yz")], Create(request).StopTokenIds);
    }

    [Fact]
    public void Without_max_new_tokens_the_rest_of_the_context_is_the_budget()
    {
        var plan = Create(new GenerateRequest { Prompt = "abcd" });

        Assert.Equal(4, plan.PromptIds.Length);
        Assert.Equal(28, plan.MaxNewTokens);
        Assert.Equal(1, plan.Samples);
    }

    [Fact]
    public void Max_total_tokens_caps_prompt_plus_new_tokens_like_hugging_face_max_length()
    {
        var plan = Create(new GenerateRequest { Prompt = "abcd", MaxTotalTokens = 10, MaxNewTokens = 20 });

        Assert.Equal(6, plan.MaxNewTokens);
    }

    [Fact]
    public void Prompt_plus_max_new_tokens_over_the_context_is_invalid_argument_on_max_new_tokens()
    {
        var (field, message) = Rejection(new GenerateRequest { Prompt = "abcd", MaxNewTokens = 29 });

        Assert.Equal("max_new_tokens", field);
        Assert.Equal("The prompt (4 tokens) plus 29 new tokens exceeds the model's context of 32 tokens; at most 28 new tokens fit after this prompt.", message);
    }

    [Fact]
    public void Prompt_filling_the_context_is_invalid_argument_on_prompt()
    {
        var (field, message) = Rejection(new GenerateRequest { Prompt = new string('a', 32) });

        Assert.Equal("prompt", field);
        Assert.Equal("The prompt is 32 tokens; the model's context is 32 tokens, which leaves no room for new tokens.", message);
    }

    [Fact]
    public void Prompt_reaching_max_total_tokens_is_invalid_argument_on_prompt()
    {
        var (field, _) = Rejection(new GenerateRequest { Prompt = "abcd", MaxTotalTokens = 4 });

        Assert.Equal("prompt", field);
    }

    [Fact]
    public void Prompt_over_both_the_context_and_a_tighter_total_cap_is_told_the_cap()
    {
        // It was told the model's context (32), though its limit was the 10 of max_total_tokens.
        var (field, message) = Rejection(new GenerateRequest { Prompt = new string('a', 40), MaxTotalTokens = 10 });

        Assert.Equal("prompt", field);
        Assert.Equal("The prompt is 40 tokens; the total length is capped at 10 tokens, which leaves no room for new tokens.", message);
    }

    [Fact]
    public void Decomposed_vietnamese_is_normalized_to_nfc_before_tokenizing()
    {
        const string composed = "Tiếng Việt";
        var decomposed = composed.Normalize(NormalizationForm.FormD);
        Assert.NotEqual(composed, decomposed);

        var plan = Create(new GenerateRequest { Prompt = decomposed });

        Assert.Equal(composed, plan.Prompt);
        Assert.Equal(TinyModel.Tokenizer.Encode(composed), plan.PromptIds);
    }

    [Theory]
    [InlineData("", 1, "prompt")]
    [InlineData("a", -1, "n")]
    [InlineData("a", 9, "n")]
    public void Bad_prompt_or_n_is_invalid_argument_naming_the_field(string prompt, int n, string expected)
    {
        Assert.Equal(expected, Rejection(new GenerateRequest { Prompt = prompt, N = n }).Field);
    }

    [Theory]
    [InlineData(-1, 1f, 1f, 1f, "top_k")]
    [InlineData(0, 0f, 1f, 1f, "top_p")]
    [InlineData(0, 1.5f, 1f, 1f, "top_p")]
    [InlineData(0, float.NaN, 1f, 1f, "top_p")]
    [InlineData(0, float.PositiveInfinity, 1f, 1f, "top_p")]
    [InlineData(0, -0.5f, 1f, 1f, "top_p")]
    [InlineData(0, 1f, -0.1f, 1f, "temperature")]
    [InlineData(0, 1f, float.NaN, 1f, "temperature")]
    [InlineData(0, 1f, float.PositiveInfinity, 1f, "temperature")]
    [InlineData(0, 1f, float.NegativeInfinity, 1f, "temperature")]
    [InlineData(0, 1f, 1f, -1f, "repetition_penalty")]
    [InlineData(0, 1f, 1f, 0f, "repetition_penalty")]
    [InlineData(0, 1f, 1f, 1e-40f, "repetition_penalty")]
    [InlineData(0, 1f, 1f, float.NaN, "repetition_penalty")]
    [InlineData(0, 1f, 1f, float.PositiveInfinity, "repetition_penalty")]
    public void Bad_sampling_parameter_is_invalid_argument_naming_it(int topK, float topP, float temperature, float penalty, string expected)
    {
        var sampling = new SamplingParameters { TopK = topK, TopP = topP, Temperature = temperature, RepetitionPenalty = penalty };

        Assert.Equal(expected, Rejection(new GenerateRequest { Prompt = "a", Sampling = sampling }).Field);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1e-40f)] // subnormal: what temperature 1e-40 becomes on its way through float32
    [InlineData(float.Epsilon)]
    [InlineData(9.99e-6f)]
    public void Temperature_below_the_greedy_epsilon_becomes_greedy_decoding(float temperature)
    {
        var sampling = new SamplingParameters { TopK = 50, TopP = 0.9f, Temperature = temperature };

        var plan = Create(new GenerateRequest { Prompt = "a", Sampling = sampling });

        Assert.Equal(1, plan.Sampling.TopK);
        Assert.False(plan.Sampling.HasTemperature);
        Assert.Equal(0.9f, plan.Sampling.TopP);
        Assert.Equal(temperature, sampling.Temperature); // the caller's message is left as it was
    }

    [Fact]
    public void Temperature_at_the_greedy_epsilon_is_sampled_as_given()
    {
        var sampling = new SamplingParameters { TopK = 50, Temperature = TritonClient.Generation.GenerationContract.GreedyTemperatureBelow };

        var plan = Create(new GenerateRequest { Prompt = "a", Sampling = sampling });

        Assert.Equal((50, TritonClient.Generation.GenerationContract.GreedyTemperatureBelow), (plan.Sampling.TopK, plan.Sampling.Temperature));
    }

    [Fact]
    public void Empty_stop_sequence_is_invalid_argument()
    {
        var request = new GenerateRequest { Prompt = "a" };
        request.Stop.Add("");

        Assert.Equal("stop", Rejection(request).Field);
    }
}
