// Trains the demo model's byte-level BPE tokenizer (GPT-2/GPT-J style) with Hugging Face
// `tokenizers` and writes tokenizer.json.
//
// Usage: node train_tokenizer.js CORPUS OUTPUT_DIR [VOCAB_SIZE=8192]
//
// Also writes OUTPUT_DIR/corpus.ids: the corpus encoded document by document (documents
// are separated by an empty line), each followed by <|endoftext|>, as uint16 little-endian,
// for train.py (Debian's Python has no `tokenizers`).
//
// The Node binding's Tokenizer.train() always uses the model's default BpeTrainer
// (vocab 30000, no special tokens, alphabet = bytes seen in the corpus). BPE training is
// greedy, so a run stopped after k merges is the first k merges of a longer run: we keep
// that prefix, put all 256 byte symbols first (so any byte sequence stays encodable, as
// GPT-2's vocabulary does) and append <|endoftext|> as the last id.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { Tokenizer, BPE, byteLevelPreTokenizer } = require("tokenizers");

const END_OF_TEXT = "<|endoftext|>";

// GPT-2's reversible byte → printable character map (bytes_to_unicode).
function byteSymbols() {
  const printable = (b) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const symbols = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    symbols.push(String.fromCodePoint(printable(b) ? b : 256 + shifted++));
  }
  return symbols;
}

function trainRaw(corpus) {
  const tokenizer = new Tokenizer(BPE.empty());
  tokenizer.setPreTokenizer(byteLevelPreTokenizer(false, true));
  tokenizer.train([corpus]);
  const scratch = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bpe-")), "raw.json");
  tokenizer.save(scratch);
  const raw = JSON.parse(fs.readFileSync(scratch, "utf8"));
  fs.rmSync(path.dirname(scratch), { recursive: true });
  return raw.model.merges.map((m) => (Array.isArray(m) ? m : m.split(" ")));
}

function truncatedModel(merges, vocabSize) {
  const vocab = new Map(byteSymbols().map((s, i) => [s, i]));
  const kept = [];
  for (const [left, right] of merges) {
    if (vocab.size >= vocabSize - 1) break; // last id is reserved for <|endoftext|>
    if (!vocab.has(left) || !vocab.has(right)) throw new Error(`merge ${left} ${right} uses an unknown symbol`);
    const merged = left + right;
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    kept.push([left, right]);
  }
  return { vocab, merges: kept };
}

function tokenizerJson(vocab, merges) {
  const endId = vocab.size;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [{ id: endId, content: END_OF_TEXT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: Object.fromEntries(vocab), merges,
    },
  };
}

async function main() {
  const [corpus, outputDir, vocabArg] = process.argv.slice(2);
  if (!corpus || !outputDir) throw new Error("usage: node train_tokenizer.js CORPUS OUTPUT_DIR [VOCAB_SIZE]");
  const vocabSize = Number(vocabArg ?? 8192);
  if (!Number.isInteger(vocabSize) || vocabSize < 512) throw new Error(`VOCAB_SIZE must be an integer >= 512, got ${vocabArg}`);

  const started = Date.now();
  const { vocab, merges } = truncatedModel(trainRaw(corpus), vocabSize);
  const json = JSON.stringify(tokenizerJson(vocab, merges));
  const tokenizer = Tokenizer.fromString(json); // validates the file with the library itself

  const text = fs.readFileSync(corpus, "utf8");
  const endId = vocab.size;
  const ids = [];
  for (const document of text.split("\n\n")) {
    const documentIds = (await tokenizer.encode(document)).getIds();
    if ((await tokenizer.decode(documentIds, false)) !== document) throw new Error("tokenizer does not round-trip the corpus");
    ids.push(...documentIds, endId);
  }

  fs.mkdirSync(outputDir, { recursive: true });
  fs.writeFileSync(path.join(outputDir, "tokenizer.json"), json + "\n");
  fs.writeFileSync(path.join(outputDir, "corpus.ids"), Buffer.from(Uint16Array.from(ids).buffer));
  console.log(`vocab ${tokenizer.getVocabSize(true)} (${merges.length} merges + 256 bytes + ${END_OF_TEXT}=${vocab.size}); ` +
    `corpus ${Buffer.byteLength(text)} bytes -> ${ids.length} tokens; ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e) => { console.error(e.message); process.exit(1); });
