#!/usr/bin/python3
"""Reference for GptjAspire's Sampler: Hugging Face generate() logits processing on fixed logits.

Our own torch code following the semantics (and order) of transformers' generation/logits_process.py
for GPT-J's generate(): processors first (RepetitionPenaltyLogitsProcessor, NoBadWordsLogitsProcessor),
then, only when sampling, the warpers in HF's order (TemperatureLogitsWarper, TopKLogitsWarper,
TopPLogitsWarper). Also the reference stream of our seeded generator (SplitMix64-seeded xoshiro256**).

Writes tests/CpuBackend.Tests/Generation/Fixtures/sampling_cases.json; CI reads that file and needs no torch.
Run: /usr/bin/python3 tools/sampling_reference/make_fixtures.py
"""
import json
import math
import os

import torch

MASK64 = (1 << 64) - 1
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "CpuBackend.Tests", "Generation",
                   "Fixtures", "sampling_cases.json")


# ---- HF logits processors (float32, like generate() on a float32 model) ----

def repetition_penalty(scores, context, penalty):
    # Gather every context token's score, penalise, scatter back: duplicates all see the original score.
    ids = torch.tensor(context, dtype=torch.long)
    score = torch.gather(scores, 0, ids)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return scores.scatter(0, ids, score)


def bad_words(scores, context, words):
    # A bad word's last token is banned when the tokens before it end the context (always for one-token words).
    scores = scores.clone()
    for word in words:
        prefix = word[:-1]
        if len(prefix) == 0 or (len(prefix) <= len(context) and context[len(context) - len(prefix):] == prefix):
            scores[word[-1]] = -math.inf
    return scores


def temperature(scores, t):
    return scores / t


def top_k(scores, k):
    k = min(max(k, 1), scores.shape[-1])
    kth = torch.topk(scores, k)[0][-1]
    return scores.masked_fill(scores < kth, -math.inf)


def top_p(scores, p, dtype=torch.float32):
    sorted_logits, sorted_indices = torch.sort(scores.to(dtype), descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= (1 - p)
    remove_sorted[-1:] = False  # min_tokens_to_keep = 1
    remove = remove_sorted.scatter(0, sorted_indices, remove_sorted)
    return remove


def process(logits, context, params, words):
    scores = logits.clone()
    if params["repetition_penalty"] != 1.0:
        scores = repetition_penalty(scores, context, params["repetition_penalty"])
    if words:
        scores = bad_words(scores, context, words)
    greedy = params["top_k"] == 1 or params["temperature"] == 0.0
    if greedy:
        return scores, True
    if params["temperature"] != 1.0:
        scores = temperature(scores, params["temperature"])
    if params["top_k"] > 0:
        scores = top_k(scores, params["top_k"])
    if params["top_p"] < 1.0:
        remove32 = top_p(scores, params["top_p"])
        remove64 = top_p(scores, params["top_p"], torch.float64)
        # A case on the float32 rounding edge of the threshold would test rounding, not semantics.
        if not torch.equal(remove32, remove64):
            raise ValueError("top-p case sits on a rounding edge; change its logits")
        scores = scores.masked_fill(remove32, -math.inf)
    return scores, False


# ---- our generator: xoshiro256** seeded by SplitMix64 over (seed, sequence) ----

def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class Xoshiro256StarStar:
    def __init__(self, seed, sequence):
        state = seed
        state, mixed = splitmix64(state)
        state = mixed ^ ((sequence * 0xD1B54A32D192ED03) & MASK64)
        self.s = []
        for _ in range(4):
            state, word = splitmix64(state)
            self.s.append(word)

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


# ---- cases ----

def f32_list(t):
    return [None if math.isinf(v) else float(v) for v in t.tolist()]


def case(name, logits, context, params, words=()):
    full = {"top_k": 0, "top_p": 1.0, "temperature": 1.0, "repetition_penalty": 1.0}
    full.update(params)
    scores, greedy = process(logits, list(context), full, [list(w) for w in words])
    entry = {
        "name": name,
        "logits": f32_list(logits),
        "context": list(context),
        "params": full,
        "bad_words": [list(w) for w in words],
        "greedy": greedy,
        "scores": f32_list(scores),  # null = -inf (removed)
    }
    if greedy:
        entry["argmax"] = int(torch.argmax(scores))
        entry["log_prob"] = float(torch.log_softmax(scores.double(), dim=-1)[entry["argmax"]])
    else:
        entry["probabilities"] = [float(v) for v in torch.softmax(scores.double(), dim=-1).tolist()]
    return entry


def main():
    torch.manual_seed(20240521)
    small = torch.randn(32, dtype=torch.float32) * 3
    wide = torch.randn(1000, dtype=torch.float32) * 4
    flat = torch.randn(400, dtype=torch.float32) * 0.5
    tied = torch.tensor([1.0, 3.0, 2.0, 3.0, -1.0, 3.0, 0.5, 2.0], dtype=torch.float32)
    context = [3, 7, 7, 1, 30, 3, 12]
    cases = [
        case("plain_softmax", small, context, {}),
        case("temperature_0_7", small, context, {"temperature": 0.7}),
        case("temperature_1_6", wide, context, {"temperature": 1.6}),
        case("top_k_5", small, context, {"top_k": 5}),
        case("top_k_50_wide", wide, context, {"top_k": 50}),
        case("top_k_beyond_vocab", small, context, {"top_k": 100}),
        case("top_k_keeps_ties", tied, [0], {"top_k": 2}),
        case("top_p_0_9", small, context, {"top_p": 0.9}),
        case("top_p_0_5_wide", wide, context, {"top_p": 0.5}),
        case("top_p_0_95_flat", flat, context, {"top_p": 0.95}),
        case("top_p_tiny_keeps_one", wide, context, {"top_p": 0.001}),
        case("top_p_zero_keeps_the_top_token", small, context, {"top_p": 0.0}),
        case("seed_default_top_k_50_top_p_0_9", wide, context, {"top_k": 50, "top_p": 0.9}),
        case("all_warpers", wide, list(range(0, 1000, 37)) + [74, 74],
             {"top_k": 40, "top_p": 0.8, "temperature": 0.8, "repetition_penalty": 1.3}),
        case("repetition_penalty_sampling", small, context, {"repetition_penalty": 1.5}),
        case("repetition_penalty_below_one", small, context, {"repetition_penalty": 0.7, "top_p": 0.9}),
        case("greedy_top_k_1", wide, context, {"top_k": 1}),
        case("greedy_temperature_0", wide, context, {"temperature": 0.0, "top_p": 0.5}),
        case("greedy_with_repetition_penalty", small, [int(torch.argmax(small))] * 3 + [5],
             {"top_k": 1, "repetition_penalty": 10.0}),
        case("bad_words_single_and_matching_prefix", small, [4, 9, 2],
             {"top_k": 10}, words=[[int(torch.argmax(small))], [9, 2, 17], [5, 11]]),
        case("bad_words_prefix_not_matching", small, [4, 9, 2], {}, words=[[9, 3, 17], [2, 2, 21]]),
        case("bad_words_greedy", wide, context, {"temperature": 0.0}, words=[[int(torch.argmax(wide))]]),
    ]

    streams = []
    for seed, sequence in [(0, 0), (42, 0), (42, 1), (2**64 - 1, 7), (123456789, 3)]:
        rng = Xoshiro256StarStar(seed, sequence)
        streams.append({"seed": str(seed), "sequence": sequence, "values": [str(rng.next()) for _ in range(6)]})

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        # One case per line: small diffs when a case changes.
        f.write('{"cases": [\n')
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write('\n],\n"random_streams": [\n')
        f.write(",\n".join(json.dumps(s, separators=(",", ":")) for s in streams))
        f.write("\n]}\n")
    print(f"wrote {len(cases)} cases and {len(streams)} random streams to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
