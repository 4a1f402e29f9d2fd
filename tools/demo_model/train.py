#!/usr/bin/python3
"""Trains the small Vietnamese demo GPT-J on CPU and writes models/gptj-vi-demo/.

Input: the token ids written by train_tokenizer.js (uint16 LE, each document followed by
<|endoftext|>) and its tokenizer.json. Every 20th document is held out. The run is a fixed
number of steps from a fixed seed, so it is reproducible; --max-minutes only guards the
shared machine (if it triggers, the log says so and the model is saved where it stopped).

Run with OMP_WAIT_POLICY=PASSIVE and OpenBLAS (see docs/demo-model.md): Debian's torch
links the reference BLAS, which is ~10x slower.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gptj import GptjConfig, GptjForCausalLM, load_model_dir, save_model_dir  # noqa: E402

END_OF_TEXT = "<|endoftext|>"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ids", default="artifacts/tokenizer/corpus.ids")
    p.add_argument("--tokenizer", default="artifacts/tokenizer/tokenizer.json")
    p.add_argument("--out", default="models/gptj-vi-demo")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=256, help="training sequence length (<= n_positions)")
    p.add_argument("--n-embd", type=int, default=256)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--rotary-dim", type=int, default=32)
    p.add_argument("--n-positions", type=int, default=512)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--max-minutes", type=float, default=50.0)
    return p.parse_args()


def split_documents(ids, end_id):
    """Training and held-out token streams; every 20th document (with its <|endoftext|>) is held out."""
    ends = (ids == end_id).nonzero().flatten().tolist()
    train, held_out = [], []
    start = 0
    for index, end in enumerate(ends):
        (held_out if index % 20 == 19 else train).append(ids[start:end + 1])
        start = end + 1
    return torch.cat(train), torch.cat(held_out)


def random_batch(stream, batch, seq, generator):
    starts = torch.randint(0, len(stream) - seq - 1, (batch,), generator=generator)
    rows = torch.stack([stream[s:s + seq + 1] for s in starts.tolist()])
    return rows[:, :-1], rows[:, 1:]


@torch.no_grad()
def held_out_loss(model, stream, seq, max_windows=None):
    """Mean next-token loss over consecutive non-overlapping windows of the held-out stream."""
    model.eval()
    total, count = 0.0, 0
    windows = (len(stream) - 1) // seq
    if max_windows is not None:
        windows = min(windows, max_windows)
    for w in range(0, windows, 8):
        rows = torch.stack([stream[i * seq:i * seq + seq + 1] for i in range(w, min(w + 8, windows))])
        logits = model(rows[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1), reduction="sum").item()
        count += rows[:, 1:].numel()
    model.train()
    return total / count


def learning_rate(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))  # cosine to 10%


def write_tokenizer_files(tokenizer_path, out_dir, n_positions):
    shutil.copyfile(tokenizer_path, os.path.join(out_dir, "tokenizer.json"))
    config = {
        "tokenizer_class": "GPT2Tokenizer",
        "model_max_length": n_positions,
        "bos_token": END_OF_TEXT, "eos_token": END_OF_TEXT, "unk_token": END_OF_TEXT,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    with open(args.tokenizer, encoding="utf-8") as f:
        tokenizer = json.load(f)
    end_id = next(t["id"] for t in tokenizer["added_tokens"] if t["content"] == END_OF_TEXT)
    vocab_size = len(tokenizer["model"]["vocab"]) + len(tokenizer["added_tokens"])
    with open(args.ids, "rb") as f:
        ids = torch.frombuffer(bytearray(f.read()), dtype=torch.int16).to(torch.int64) & 0xFFFF
    train, held_out = split_documents(ids, end_id)
    print(f"tokens: {len(ids)} total, {len(train)} train, {len(held_out)} held out; vocab {vocab_size}", flush=True)

    config = GptjConfig(vocab_size=vocab_size, n_positions=args.n_positions, n_embd=args.n_embd,
                        n_layer=args.n_layer, n_head=args.n_head, rotary_dim=args.rotary_dim,
                        n_inner=4 * args.n_embd, bos_token_id=end_id, eos_token_id=end_id)
    model = GptjForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params} parameters, {config}", flush=True)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))

    started = time.time()
    window_start, window_tokens = started, 0
    step = 0
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        inputs, targets = random_batch(train, args.batch, args.seq, generator)
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        window_tokens += inputs.numel()

        done = step + 1
        if done % args.log_every == 0 or done == args.steps:
            now = time.time()
            rate = window_tokens / (now - window_start)
            per_step = (now - started) / done
            print(f"step {done}/{args.steps} loss {loss.item():.4f} lr {learning_rate(step, args):.2e} "
                  f"tokens/s {rate:.0f} elapsed {(now - started) / 60:.1f} min "
                  f"ETA {per_step * (args.steps - done) / 60:.1f} min", flush=True)
            window_start, window_tokens = now, 0
        if done % args.eval_every == 0 and done < args.steps:
            loss_h = held_out_loss(model, held_out, args.seq, max_windows=16)
            print(f"step {done} held-out loss {loss_h:.4f} (first 16 windows)", flush=True)
        if (time.time() - started) / 60 > args.max_minutes:
            print(f"stopping at step {done}: --max-minutes {args.max_minutes} reached", flush=True)
            break
    train_minutes = (time.time() - started) / 60

    save_model_dir(model, args.out)
    write_tokenizer_files(args.tokenizer, args.out, args.n_positions)
    shipped = load_model_dir(args.out)  # evaluate the f16 weights as shipped
    shipped_loss = held_out_loss(shipped, held_out, args.seq)
    summary = {"steps": step + 1, "train_minutes": round(train_minutes, 1), "parameters": params,
               "train_tokens": len(train), "held_out_tokens": len(held_out),
               "tokens_seen": (step + 1) * args.batch * args.seq,
               "held_out_loss": round(shipped_loss, 4), "held_out_perplexity": round(math.exp(shipped_loss), 2)}
    print(f"trained {summary['steps']} steps in {train_minutes:.1f} min; "
          f"held-out perplexity {math.exp(shipped_loss):.2f} (loss {shipped_loss:.4f}, f16 weights as saved)", flush=True)
    print("summary " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
