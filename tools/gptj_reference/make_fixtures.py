"""Creates small random GPT-J checkpoints (safetensors written by hand and pytorch_model.bin via
torch.save, single and sharded) and records reference logits and 32 greedy tokens for fixed
prompts; or, with --model-dir, records the same for an existing Hugging Face GPT-J folder.

  /usr/bin/python3 tools/gptj_reference/make_fixtures.py                       # test fixtures
  /usr/bin/python3 tools/gptj_reference/make_fixtures.py --model-dir models/x --out x.safetensors
"""
import argparse
import collections
import json
import os
import shutil

import torch

import gptj
import safetensors_io

GREEDY_TOKENS = 32
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "tests", "CpuBackend.Tests", "Fixtures", "gptj")

# name: (vocab, embd, layers, heads, rotary_dim, n_inner, checkpoint dtype, sharded, with HF mask buffers)
FIXTURES = {
    "partial-rotary-f32": (1000, 64, 2, 4, 8, None, torch.float32, False, True),
    "full-rotary-f16": (1003, 96, 3, 3, 32, 200, torch.float16, False, False),
    "sharded-bf16": (999, 64, 2, 2, 24, 100, torch.bfloat16, True, False),
}


def prompts(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    fixed = [0, 17, vocab - 1, 5, 423 % vocab, 64, 3]
    return [fixed, torch.randint(0, vocab, (12,), generator=g).tolist()]


def record(model, prompt_list):
    """Logits of every prompt position and greedy tokens, recomputing the whole sequence each step
    (no cache), so the engine's cache is checked against plain full-sequence attention."""
    out, margins = collections.OrderedDict(), []
    for i, ids in enumerate(prompt_list):
        with torch.no_grad():
            logits = model.forward(torch.tensor([ids]), model.new_cache())[0]
            seq, greedy = list(ids), []
            for _ in range(GREEDY_TOKENS):
                last = model.forward(torch.tensor([seq]), model.new_cache())[0, -1]
                top2 = last.topk(2).values
                margins.append(float(top2[0] - top2[1]))
                token = int(last.argmax())
                greedy.append(token)
                seq.append(token)
        out[f"prompt{i}.ids"] = torch.tensor(ids, dtype=torch.int32)
        out[f"prompt{i}.logits"] = logits.to(torch.float32)
        out[f"prompt{i}.greedy"] = torch.tensor(greedy, dtype=torch.int32)
    return out, min(margins)


def save_bin(path, tensors):
    sd = collections.OrderedDict(tensors)
    sd._metadata = collections.OrderedDict({"": {"version": 1}})  # like nn.Module.state_dict()
    torch.save(sd, path)


def write_sharded(folder, tensors, stem, ext, writer):
    names = list(tensors)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, part in enumerate(halves):
        file = f"{stem}-{i + 1:05d}-of-{len(halves):05d}.{ext}"
        writer(os.path.join(folder, file), collections.OrderedDict((n, tensors[n]) for n in part))
        weight_map.update({n: file for n in part})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    with open(os.path.join(folder, f"{stem}.{ext}.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)


def make_fixture(root, name, spec, seed):
    vocab, embd, layers, heads, rotary, inner, dtype, sharded, buffers = spec
    config = gptj.hf_config(vocab, embd, layers, heads, rotary, inner)
    cfg = gptj.Config(config)
    weights = gptj.random_weights(cfg, seed, dtype)
    if buffers:  # older HF GPT-J checkpoints carry the causal mask and masked_bias; loaders skip them
        for l in range(layers):
            mask = torch.tril(torch.ones(cfg.positions, cfg.positions, dtype=torch.bool))
            weights[f"transformer.h.{l}.attn.bias"] = mask.view(1, 1, cfg.positions, cfg.positions)
            weights[f"transformer.h.{l}.attn.masked_bias"] = torch.tensor(-1e9)

    folder = os.path.join(root, name)
    shutil.rmtree(folder, ignore_errors=True)
    for sub in ("safetensors", "pytorch"):  # not "bin": .gitignore drops bin/ folders
        os.makedirs(os.path.join(folder, sub))
        with open(os.path.join(folder, sub, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
    st, pt = os.path.join(folder, "safetensors"), os.path.join(folder, "pytorch")
    if sharded:
        write_sharded(st, weights, "model", "safetensors", safetensors_io.write)
        write_sharded(pt, weights, "pytorch_model", "bin", save_bin)
    else:
        safetensors_io.write(os.path.join(st, "model.safetensors"), weights, {"format": "pt"})
        save_bin(os.path.join(pt, "pytorch_model.bin"), weights)

    model = gptj.Model(cfg, weights, torch.float64)
    reference, margin = record(model, prompts(vocab, seed))
    safetensors_io.write(os.path.join(folder, "reference.safetensors"), reference,
                         {"compute": "float64", "greedy_min_margin": f"{margin:.4f}"})
    print(f"{name}: smallest top-1 margin along greedy paths {margin:.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", help="record fixtures for this existing HF GPT-J folder")
    ap.add_argument("--out", help="output folder (random fixtures) or reference .safetensors file (--model-dir)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                    help="compute dtype for --model-dir (float64 needs 2x the memory of f32)")
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.model_dir:
        cfg = gptj.Config.load(args.model_dir)
        model = gptj.Model(cfg, gptj.load_weights(args.model_dir), getattr(torch, args.dtype))
        reference, margin = record(model, prompts(cfg.vocab, 1234))
        out = args.out or os.path.join(args.model_dir, "reference.safetensors")
        safetensors_io.write(out, reference, {"compute": args.dtype, "greedy_min_margin": f"{margin:.4f}"})
        print(f"{out}: smallest top-1 margin along greedy paths {margin:.4f}")
        return
    root = args.out or DEFAULT_OUT
    for i, (name, spec) in enumerate(FIXTURES.items()):
        make_fixture(root, name, spec, seed=100 + i)


if __name__ == "__main__":
    main()
