"""Our own PyTorch GPT-J forward pass following Hugging Face GPTJForCausalLM semantics:
x = x + attn(ln_1 x) + mlp(ln_1 x); GPT-J rotary (rotate every two) on the first rotary_dim
features of each head, base 10000; causal attention scaled by 1/sqrt(head_dim); gelu_new;
ln_f; lm_head with bias."""
import json
import math
import os

import torch
import torch.nn.functional as F

import safetensors_io


class Config:
    def __init__(self, d):
        self.vocab = d["vocab_size"]
        self.embd = d["n_embd"]
        self.layers = d["n_layer"]
        self.heads = d["n_head"]
        self.head_dim = self.embd // self.heads
        self.rotary = d.get("rotary_dim") or self.head_dim
        self.inner = d.get("n_inner") or 4 * self.embd
        self.positions = d.get("n_positions", 2048)
        self.eps = d.get("layer_norm_epsilon", 1e-5)

    @staticmethod
    def load(model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            return Config(json.load(f))


def hf_config(vocab, embd, layers, heads, rotary, inner, positions=128):
    return {
        "architectures": ["GPTJForCausalLM"], "model_type": "gptj",
        "activation_function": "gelu_new", "vocab_size": vocab, "n_embd": embd,
        "n_layer": layers, "n_head": heads, "rotary_dim": rotary, "n_inner": inner,
        "n_positions": positions, "layer_norm_epsilon": 1e-5,
        "bos_token_id": 0, "eos_token_id": 1,
    }


def load_weights(model_dir):
    """Loads every tensor of an HF folder: safetensors (single or sharded) or pytorch_model.bin."""
    def files(index_name, single):
        index = os.path.join(model_dir, index_name)
        if os.path.exists(index):
            with open(index) as f:
                return sorted(set(json.load(f)["weight_map"].values()))
        return [single] if os.path.exists(os.path.join(model_dir, single)) else []

    weights = {}
    for name in files("model.safetensors.index.json", "model.safetensors"):
        weights.update(safetensors_io.read(os.path.join(model_dir, name)))
    if not weights:
        for name in files("pytorch_model.bin.index.json", "pytorch_model.bin"):
            weights.update(torch.load(os.path.join(model_dir, name), map_location="cpu"))
    if not weights:
        raise SystemExit(f"{model_dir}: no model.safetensors or pytorch_model.bin")
    return weights


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def rotate_every_two(x, sin, cos, rotary):
    """GPT-J rotary: pairs (x[2i], x[2i+1]) of the first `rotary` features turn by pos*theta_i."""
    rot, rest = x[..., :rotary], x[..., rotary:]
    x1, x2 = rot[..., 0::2], rot[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).flatten(-2)
    return torch.cat((out, rest), dim=-1)


class Model:
    """Weights as `dtype` tensors and a forward pass with an optional key/value cache."""

    def __init__(self, cfg, weights, dtype):
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in weights.items() if v.is_floating_point()}

    def new_cache(self):
        return [None] * self.cfg.layers

    def forward(self, ids, cache):
        """ids [B, T] (long); cache: list per layer of (k, v) [B, H, S, D] or None, updated in place."""
        cfg, w = self.cfg, self.w
        B, T = ids.shape
        past = 0 if cache[0] is None else cache[0][0].shape[2]
        pos = torch.arange(past, past + T, dtype=torch.float64)
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, cfg.rotary, 2, dtype=torch.float64) / cfg.rotary))
        angle = pos[:, None] * inv_freq[None, :]
        sin = angle.sin().to(self.dtype)[None, :, None, :]
        cos = angle.cos().to(self.dtype)[None, :, None, :]
        causal = torch.arange(past + T)[None, :] <= (past + torch.arange(T))[:, None]  # [T, S]

        x = w["transformer.wte.weight"][ids]
        for l in range(cfg.layers):
            p = f"transformer.h.{l}."
            h = F.layer_norm(x, (cfg.embd,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], cfg.eps)
            q = (h @ w[p + "attn.q_proj.weight"].T).view(B, T, cfg.heads, cfg.head_dim)
            k = (h @ w[p + "attn.k_proj.weight"].T).view(B, T, cfg.heads, cfg.head_dim)
            v = (h @ w[p + "attn.v_proj.weight"].T).view(B, T, cfg.heads, cfg.head_dim)
            q = rotate_every_two(q, sin, cos, cfg.rotary).transpose(1, 2)
            k = rotate_every_two(k, sin, cos, cfg.rotary).transpose(1, 2)
            v = v.transpose(1, 2)
            if cache[l] is not None:
                k = torch.cat((cache[l][0], k), dim=2)
                v = torch.cat((cache[l][1], v), dim=2)
            cache[l] = (k, v)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(cfg.head_dim)
            scores = scores.masked_fill(~causal, float("-inf"))
            a = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, T, cfg.embd)
            attn = a @ w[p + "attn.out_proj.weight"].T
            m = gelu_new(h @ w[p + "mlp.fc_in.weight"].T + w[p + "mlp.fc_in.bias"])
            m = m @ w[p + "mlp.fc_out.weight"].T + w[p + "mlp.fc_out.bias"]
            x = x + attn + m
        x = F.layer_norm(x, (cfg.embd,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], cfg.eps)
        return x @ w["lm_head.weight"].T + w["lm_head.bias"]


def random_weights(cfg, seed, dtype, std=0.08):
    """A random GPT-J state dict with HF names; scales chosen so logits spread over a few units."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=std):
        return (torch.randn(*shape, generator=g, dtype=torch.float32) * scale).to(dtype)

    E, I = cfg.embd, cfg.inner
    sd = {"transformer.wte.weight": rnd(cfg.vocab, E, scale=1.0)}
    for l in range(cfg.layers):
        p = f"transformer.h.{l}."
        sd[p + "ln_1.weight"] = (1.0 + rnd(E, scale=0.1))
        sd[p + "ln_1.bias"] = rnd(E, scale=0.1)
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            sd[p + f"attn.{name}.weight"] = rnd(E, E, scale=1.5 / math.sqrt(E))
        sd[p + "mlp.fc_in.weight"] = rnd(I, E, scale=1.0 / math.sqrt(E))
        sd[p + "mlp.fc_in.bias"] = rnd(I, scale=0.1)
        sd[p + "mlp.fc_out.weight"] = rnd(E, I, scale=1.0 / math.sqrt(I))
        sd[p + "mlp.fc_out.bias"] = rnd(E, scale=0.1)
    sd["transformer.ln_f.weight"] = 1.0 + rnd(E, scale=0.1)
    sd["transformer.ln_f.bias"] = rnd(E, scale=0.1)
    sd["lm_head.weight"] = rnd(cfg.vocab, E, scale=2.0 / math.sqrt(E))
    sd["lm_head.bias"] = rnd(cfg.vocab, scale=0.1)
    return sd
