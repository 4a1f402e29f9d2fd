// The reference side of the parity suite: Hugging Face `tokenizers` (official Rust binding) loaded with our test vocabularies.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer, AddedToken, byteLevelPreTokenizer, nfcNormalizer } = require('tokenizers');

const END_OF_TEXT = '<|endoftext|>';

/** HF's gpt2 tokenizer.json, built from GPT-2's own vocab.json + merges.txt (same settings HF publishes for gpt2). */
function gpt2TokenizerJson(vocabPath, mergesPath) {
  const vocab = JSON.parse(fs.readFileSync(vocabPath, 'utf8'));
  const merges = fs.readFileSync(mergesPath, 'utf8').split('\n').filter((l) => l && !l.startsWith('#version'));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: vocab[END_OF_TEXT], content: END_OF_TEXT, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

/**
 * The Vietnamese vocabulary with every option we must honour switched on: NFC normalizer, add_prefix_space, and added
 * tokens with lstrip / rstrip / single_word / normalized, special and not, one of them ("ab") already in the vocabulary.
 */
function writeOptionsTokenizer(fixturesDir) {
  const tokenizer = Tokenizer.fromFile(path.join(fixturesDir, 'vi', 'tokenizer.json'));
  tokenizer.setPreTokenizer(byteLevelPreTokenizer(true, true));
  tokenizer.setNormalizer(nfcNormalizer());
  tokenizer.addAddedTokens([
    new AddedToken('<mask>', true, { leftStrip: true, normalized: false }),
    new AddedToken('<sep>', false, { rightStrip: true, normalized: false }),
    new AddedToken('Việt Nam', false, { singleWord: true, normalized: true }),
    new AddedToken('ab', false, { singleWord: true, normalized: false }),
    new AddedToken('ngườ', false, {}),
  ]);
  fs.mkdirSync(path.join(fixturesDir, 'vi-options'), { recursive: true });
  tokenizer.save(path.join(fixturesDir, 'vi-options', 'tokenizer.json'), false);
}

/** The test vocabularies under the fixtures folder, as HF tokenizers. */
function loadReferences(fixturesDir) {
  const gpt2Dir = path.join(fixturesDir, 'gpt2');
  return {
    gpt2: Tokenizer.fromString(JSON.stringify(gpt2TokenizerJson(path.join(gpt2Dir, 'vocab.json'), path.join(gpt2Dir, 'merges.txt')))),
    vi: Tokenizer.fromFile(path.join(fixturesDir, 'vi', 'tokenizer.json')),
    viOptions: Tokenizer.fromFile(path.join(fixturesDir, 'vi-options', 'tokenizer.json')),
  };
}

/** What the parity suite asserts for one input: ids, decoded text, decoded text without special tokens. */
async function expectationFor(tokenizer, text) {
  const ids = (await tokenizer.encode(text)).getIds();
  return { ids, text: await tokenizer.decode(ids, false), skipSpecial: await tokenizer.decode(ids, true) };
}

module.exports = { END_OF_TEXT, gpt2TokenizerJson, writeOptionsTokenizer, loadReferences, expectationFor };
