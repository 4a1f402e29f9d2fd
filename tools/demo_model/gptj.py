"""GPT-J in plain PyTorch, exactly as HF GPTJForCausalLM computes it (see ARCHITECTURE.md,
"GPT-J, precisely"), plus reading and writing its Hugging Face folder (config.json and
model.safetensors, written by hand: Debian has no safetensors package).
"""
import json
import math
import os
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# The reference's hand-written safetensors reader/writer; appended, so its gptj.py never shadows this one.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gptj_reference"))
import safetensors_io  # noqa: E402


@dataclass
class GptjConfig:
    vocab_size: int
    n_positions: int
    n_embd: int
    n_layer: int
    n_head: int
    rotary_dim: int
    n_inner: int
    layer_norm_epsilon: float = 1e-5
    bos_token_id: int = 0
    eos_token_id: int = 0
    dropout: float = 0.0  # training only; the inference config carries 0

    def __post_init__(self):
        if self.n_embd % self.n_head or self.rotary_dim % 2 or self.rotary_dim > self.n_embd // self.n_head:
            raise ValueError(f"n_embd {self.n_embd} must split into n_head {self.n_head} heads of at least "
                             f"rotary_dim {self.rotary_dim} (even) features")

    @property
    def head_dim(self):
        return self.n_embd // self.n_head

    def to_hf(self):
        """The config.json fields of an HF GPT-J checkpoint (names as HF GPTJConfig has them)."""
        return {
            "architectures": ["GPTJForCausalLM"],
            "model_type": "gptj",
            "vocab_size": self.vocab_size,
            "n_positions": self.n_positions,
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "rotary_dim": self.rotary_dim,
            "n_inner": self.n_inner,
            "activation_function": "gelu_new",
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "rotary": True,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "tie_word_embeddings": False,
            "attn_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "resid_pdrop": 0.0,
            "initializer_range": 0.02,
            "use_cache": True,
            "torch_dtype": "float16",
        }

    @staticmethod
    def from_hf(fields):
        return GptjConfig(
            vocab_size=fields["vocab_size"], n_positions=fields["n_positions"],
            n_embd=fields["n_embd"], n_layer=fields["n_layer"], n_head=fields["n_head"],
            rotary_dim=fields["rotary_dim"],
            n_inner=fields.get("n_inner") or 4 * fields["n_embd"],
            layer_norm_epsilon=fields.get("layer_norm_epsilon", 1e-5),
            bos_token_id=fields.get("bos_token_id", 0), eos_token_id=fields.get("eos_token_id", 0))


def rotary_tables(config, device=None):
    """sin/cos of shape [n_positions, rotary_dim/2], base 10000 (GPT-J's fixed_pos_embedding)."""
    inv_freq = 1.0 / (10000 ** (torch.arange(0, config.rotary_dim, 2, dtype=torch.float32) / config.rotary_dim))
    angles = torch.arange(config.n_positions, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return torch.sin(angles).to(device), torch.cos(angles).to(device)


def apply_rotary(x, sin, cos):
    """GPT-J "rotate every two": feature pairs (2i, 2i+1) rotate by angle i.

    x: [batch, time, heads, rotary_dim]; sin/cos: [time, rotary_dim/2].
    """
    sin = sin.repeat_interleave(2, dim=-1)[None, :, None, :]
    cos = cos.repeat_interleave(2, dim=-1)[None, :, None, :]
    even, odd = x[..., ::2], x[..., 1::2]
    rotated = torch.stack((-odd, even), dim=-1).flatten(-2)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.q_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.k_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.v_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.out_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)

    def forward(self, h, sin, cos):
        batch, time, _ = h.shape
        c = self.config
        q = self.q_proj(h).view(batch, time, c.n_head, c.head_dim)
        k = self.k_proj(h).view(batch, time, c.n_head, c.head_dim)
        v = self.v_proj(h).view(batch, time, c.n_head, c.head_dim)
        r = c.rotary_dim
        q = torch.cat((apply_rotary(q[..., :r], sin, cos), q[..., r:]), dim=-1)
        k = torch.cat((apply_rotary(k[..., :r], sin, cos), k[..., r:]), dim=-1)
        q, k, v = (t.transpose(1, 2).float() for t in (q, k, v))  # attention in fp32
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(c.head_dim)
        causal = torch.ones(time, time, dtype=torch.bool, device=h.device).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
        weights = F.dropout(torch.softmax(scores, dim=-1), c.dropout, self.training)
        out = (weights @ v).to(h.dtype).transpose(1, 2).reshape(batch, time, c.n_embd)
        return self.out_proj(out)


class Mlp(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc_in = nn.Linear(config.n_embd, config.n_inner)
        self.fc_out = nn.Linear(config.n_inner, config.n_embd)

    def forward(self, h):
        return self.fc_out(F.gelu(self.fc_in(h), approximate="tanh"))  # gelu_new


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = Attention(config)
        self.mlp = Mlp(config)
        self.dropout = config.dropout

    def forward(self, x, sin, cos):
        # GPT-J: attention and MLP run in parallel on the same ln_1 output.
        h = self.ln_1(x)
        branch = self.attn(h, sin, cos) + self.mlp(h)
        return x + F.dropout(branch, self.dropout, self.training)


class Transformer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)


class GptjForCausalLM(nn.Module):
    """Module tree mirrors HF names, so state_dict keys are the checkpoint's tensor names."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = Transformer(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=True)
        sin, cos = rotary_tables(config)
        self.register_buffer("rotary_sin", sin, persistent=False)
        self.register_buffer("rotary_cos", cos, persistent=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, ids):
        """Logits [batch, time, vocab] for token ids [batch, time] starting at position 0."""
        time = ids.shape[1]
        if time > self.config.n_positions:
            raise ValueError(f"sequence of {time} tokens exceeds n_positions {self.config.n_positions}")
        sin, cos = self.rotary_sin[:time], self.rotary_cos[:time]
        x = F.dropout(self.transformer.wte(ids), self.config.dropout, self.training)
        for block in self.transformer.h:
            x = block(x, sin, cos)
        return self.lm_head(self.transformer.ln_f(x))


def write_safetensors(path, tensors, dtype=torch.float16):
    """Writes the state dict in name order, converted to dtype, as HF's model.safetensors."""
    safetensors_io.write(path, {name: tensors[name].to(dtype) for name in sorted(tensors)}, metadata={"format": "pt"})


def save_model_dir(model, directory):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(model.config.to_hf(), f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(directory, "model.safetensors"), model.state_dict())


def load_model_dir(directory):
    """Loads config.json + model.safetensors into an fp32 GptjForCausalLM in eval mode."""
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        config = GptjConfig.from_hf(json.load(f))
    model = GptjForCausalLM(config)
    tensors = {k: v.float() for k, v in safetensors_io.read(os.path.join(directory, "model.safetensors")).items()}
    model.load_state_dict(tensors, strict=True)
    return model.eval()
