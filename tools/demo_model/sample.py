#!/usr/bin/python3
"""Generates text from a GPT-J model folder with the PyTorch model of gptj.py.

Prompts are encoded by encode.js (HF `tokenizers`); output ids are decoded here from
tokenizer.json's byte-level vocabulary. Sampling is top-k with temperature from a seeded
torch.Generator, so a seed gives the same text every time (--top-k 1 is greedy).

Usage: sample.py [--model-dir DIR] [--tokens 64] [--seed 7] PROMPT...
"""
import argparse
import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gptj import load_model_dir  # noqa: E402


def byte_decoder():
    """Inverse of GPT-2's bytes_to_unicode: printable character → byte."""
    printable = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255]
    chars, shifted = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + shifted)] = b
            shifted += 1
    return chars


def decoder(model_dir):
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer = json.load(f)
    id_to_token = {i: t for t, i in tokenizer["model"]["vocab"].items()}
    special = {t["id"]: t["content"] for t in tokenizer["added_tokens"]}
    bytes_of = byte_decoder()

    def decode(ids):
        out = bytearray()
        for i in ids:
            out += special[i].encode() if i in special else bytes(bytes_of[c] for c in id_to_token[i])
        return out.decode("utf-8", errors="replace")
    return decode


def encode(model_dir, prompts):
    result = subprocess.run(["node", os.path.join(HERE, "encode.js"), model_dir, *prompts],
                            check=True, capture_output=True, text=True, cwd=HERE)
    return [json.loads(line) for line in result.stdout.splitlines()]


@torch.no_grad()
def generate(model, ids, tokens, top_k, temperature, generator):
    ids = list(ids)
    for _ in range(tokens):
        logits = model(torch.tensor([ids[-model.config.n_positions:]]))[0, -1] / temperature
        if top_k > 0:
            kth = torch.topk(logits, top_k).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        token = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).item()
        ids.append(token)
        if token == model.config.eos_token_id:
            break
    return ids


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", default="models/gptj-vi-demo")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--top-k", type=int, default=40)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("prompts", nargs="+")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model_dir = os.path.abspath(args.model_dir)
    model = load_model_dir(model_dir)
    decode = decoder(model_dir)
    for prompt, ids in zip(args.prompts, encode(model_dir, args.prompts)):
        generator = torch.Generator().manual_seed(args.seed)
        out = generate(model, ids, args.tokens, args.top_k, args.temperature, generator)
        print(f"### {prompt}\n{decode(out)}\n", flush=True)


if __name__ == "__main__":
    main()
