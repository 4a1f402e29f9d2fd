"""Writes tiny/: a byte-level BPE tokenizer in GPT-2 layout (vocab.json + merges.txt) with a few merges and
<|endoftext|>, and a config.json with a 32-token context. The Preprocessor unit tests use it. Run once:
    /usr/bin/python3 make_tiny.py
"""
import json, os

def bytes_to_unicode():
    # GPT-2's reversible table from bytes to printable characters.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))

table = bytes_to_unicode()

def sym(text):
    return "".join(table[b] for b in text.encode("utf-8"))

vocab = {table[b]: b for b in range(256)}
# " chà" and "Xin" become one token each; "ệ" (3 bytes) stays three tokens, so decoding must wait for it.
merges = [("à", None), ("h", "à"), (" ", "c"), (" c", "hà"), ("i", "n"), ("X", "in"), ("o", ".")]
lines = []
for left, right in merges:
    if right is None:  # join the bytes of one character
        parts = [table[b] for b in left.encode("utf-8")]
        left_sym, right_sym = parts[0], "".join(parts[1:])
    else:
        left_sym, right_sym = sym(left), sym(right)
    vocab.setdefault(left_sym + right_sym, len(vocab))
    lines.append(f"{left_sym} {right_sym}")
vocab["<|endoftext|>"] = len(vocab)

os.makedirs("tiny", exist_ok=True)
with open("tiny/vocab.json", "w", encoding="utf-8") as f:
    json.dump(vocab, f, ensure_ascii=False)
with open("tiny/merges.txt", "w", encoding="utf-8") as f:
    f.write("#version: 0.2\n" + "\n".join(lines) + "\n")
with open("tiny/config.json", "w") as f:
    json.dump({"model_type": "gptj", "n_positions": 32, "vocab_size": len(vocab),
               "eos_token_id": vocab["<|endoftext|>"], "bos_token_id": vocab["<|endoftext|>"]}, f)
