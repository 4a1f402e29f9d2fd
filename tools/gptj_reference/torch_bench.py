"""PyTorch eager anchor for the engine benchmark (benchmarks/Benchmarks engine suite): loads the
same checkpoint folder with our reference GPT-J (gptj.py) in float32 and prints one JSON line of
median timings. The benchmark starts this as a child process in the same run.

  /usr/bin/python3 tools/gptj_reference/torch_bench.py --model-dir DIR --threads 2
"""
import argparse
import json
import statistics
import time

import torch

import gptj


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill-tokens", type=int, default=200)
    ap.add_argument("--decode-prompt", type=int, default=32)
    ap.add_argument("--decode-steps", type=int, default=16)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = gptj.Config.load(args.model_dir)
    model = gptj.Model(cfg, gptj.load_weights(args.model_dir), torch.float32)
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, cfg.vocab, (1, args.prefill_tokens), generator=g)

    with torch.inference_mode():
        model.forward(prompt, model.new_cache())  # warm-up on the measured shape, as the engine suite does
        prefill = statistics.median(
            timed(lambda: model.forward(prompt, model.new_cache())) for _ in range(args.repeats))

        def decode(batch):
            cache = model.new_cache()
            logits = model.forward(prompt[:, :args.decode_prompt], cache)
            cache[:] = [(k.repeat(batch, 1, 1, 1), v.repeat(batch, 1, 1, 1)) for k, v in cache]
            token = logits[:, -1].argmax(-1).repeat(batch).view(batch, 1)
            steps = []
            for _ in range(args.decode_steps):
                start = time.perf_counter()
                logits = model.forward(token, cache)
                token = logits[:, -1].argmax(-1).view(batch, 1)
                steps.append(time.perf_counter() - start)
            return statistics.median(steps)

        decode1 = decode(1)
        decode_batch = decode(args.batch)

    print(json.dumps({
        "prefill_tokens_per_s": args.prefill_tokens / prefill,
        "decode1_tokens_per_s": 1 / decode1,
        "decode_batch_tokens_per_s": args.batch / decode_batch,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
