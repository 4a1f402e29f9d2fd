// Trains the Vietnamese byte-level BPE test vocabulary (16,000 tokens, or fewer if the corpus runs out of merges) with Hugging Face tokenizers.
// Usage: node train_vi_bpe.js CORPUS OUTPUT_TOKENIZER_JSON
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Tokenizer, BPE, byteLevelPreTokenizer } = require('tokenizers');
const { END_OF_TEXT } = require('./hf_reference');

const VOCAB_SIZE = 16000;

function byteLevelAlphabet() {
  // GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 + n.
  const chars = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCharCode(printable ? b : 256 + n++));
  }
  return chars;
}

function main() {
  const [corpus, output] = process.argv.slice(2);
  if (!corpus || !output) {
    console.error('usage: node train_vi_bpe.js CORPUS OUTPUT_TOKENIZER_JSON');
    process.exit(2);
  }
  // The node binding trains with the model's default BpeTrainer (vocab_size 30000, min_frequency 0, no initial
  // alphabet). BPE training is greedy, so its first K merges are exactly what a run stopped at K merges produces:
  // we keep the first merges so that alphabet + merges + the 256-byte alphabet's missing bytes + <|endoftext|> = 16,000.
  const tokenizer = new Tokenizer(BPE.empty());
  tokenizer.setPreTokenizer(byteLevelPreTokenizer(false, true));
  tokenizer.train([corpus]);
  const scratch = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vi-bpe-')), 'trained.json');
  tokenizer.save(scratch);
  const trained = JSON.parse(fs.readFileSync(scratch, 'utf8'));

  const entries = Object.entries(trained.model.vocab).sort((a, b) => a[1] - b[1]);
  const merges = trained.model.merges;
  const alphabetSize = entries.length - merges.length;
  const missingBytes = byteLevelAlphabet().filter((c) => !(c in trained.model.vocab));
  const wantedMerges = VOCAB_SIZE - 1 - alphabetSize - missingBytes.length;
  const keptMerges = Math.min(wantedMerges, merges.length);
  if (keptMerges < wantedMerges) {
    // Training stops once every word of the corpus is a single token; a small corpus cannot fill 16,000.
    console.warn(`corpus supports only ${merges.length} merges (${wantedMerges} wanted): vocabulary will be smaller than ${VOCAB_SIZE}`);
  }
  const vocab = Object.fromEntries(entries.slice(0, alphabetSize + keptMerges));
  let next = alphabetSize + keptMerges;
  for (const c of missingBytes) vocab[c] = next++;
  const endOfTextId = next;

  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const result = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: endOfTextId, content: END_OF_TEXT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: { ...trained.model, vocab, merges: merges.slice(0, keptMerges) },
  };
  // Round-trip through HF so the committed file is exactly what HF itself writes for this tokenizer.
  Tokenizer.fromString(JSON.stringify(result)).save(output, false);
  console.log(`trained on ${fs.statSync(corpus).size} bytes: ${merges.length} merges learned, kept ${keptMerges}; ` +
    `alphabet ${alphabetSize} + ${missingBytes.length} added bytes; vocab ${endOfTextId + 1} with ${END_OF_TEXT}=${endOfTextId}`);
}

main();
