"""Writes tiny-gptj/: a random GPT-J (HF layout, model.safetensors) whose vocabulary is exactly the
Preprocessor tests' tiny byte-level tokenizer (264 ids, <|endoftext|> = 263), with a 2048-token
context (GPT-J has no learned positions, so that costs no weights), and which never samples
<|endoftext|>. The integration tests run the three services on it until they use the demo checkpoint. Run once:
    /usr/bin/python3 tests/AppHost.Tests/Fixtures/make_tiny_gptj.py
"""
import json, os, shutil, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools", "gptj_reference"))
import torch  # noqa: E402
import gptj  # noqa: E402
import safetensors_io  # noqa: E402

TOKENIZER = os.path.join(ROOT, "tests", "Preprocessor.Tests", "Fixtures", "tiny")
OUT = os.path.join(HERE, "tiny-gptj")

with open(os.path.join(TOKENIZER, "vocab.json"), encoding="utf-8") as f:
    vocab = json.load(f)
end_of_text = vocab["<|endoftext|>"]
config = gptj.hf_config(len(vocab), 32, 2, 4, 8, None, positions=2048)
config["bos_token_id"] = config["eos_token_id"] = end_of_text

shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump(config, f, indent=1)
for name in ("vocab.json", "merges.txt"):
    shutil.copy(os.path.join(TOKENIZER, name), OUT)
weights = gptj.random_weights(gptj.Config(config), seed=5, dtype=torch.float32)
# Never sample <|endoftext|>: a completion then runs to max_tokens, so the tests that cancel or kill
# a generation midway always find it still running.
weights["lm_head.bias"][end_of_text] = -1e4
safetensors_io.write(os.path.join(OUT, "model.safetensors"), weights, {"format": "pt"})
