// CI: re-computes committed parity fixtures with Hugging Face tokenizers and fails on any difference.
// Usage: node check_fixtures.js [--sample N] [--fixtures tests/Tokenizer.Tests/Fixtures]   (default: every case)
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const util = require('util');
const { loadReferences } = require('./hf_reference');
const { VOCABS, expectedCase, expectedDecode } = require('./fixture_cases');

function argument(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function sample(list, n) {
  if (!n || n >= list.length) return list;
  const step = list.length / n;
  return Array.from({ length: n }, (_, i) => list[Math.floor(i * step)]);
}

async function main() {
  const fixtures = argument('--fixtures', path.resolve(__dirname, '..', '..', 'tests', 'Tokenizer.Tests', 'Fixtures'));
  const n = Number(argument('--sample', '0'));
  const committed = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(fixtures, 'parity.json.gz'))).toString('utf8'));
  const references = loadReferences(fixtures);

  let checked = 0;
  let failed = 0;
  for (const expected of sample(committed.cases, n)) {
    const actual = await expectedCase(references, { kind: expected.kind, text: expected.text });
    checked++;
    if (!util.isDeepStrictEqual(actual, expected)) {
      failed++;
      if (failed <= 5) console.error(`MISMATCH (${expected.kind}): ${JSON.stringify(expected.text.slice(0, 80))}`);
    }
  }
  for (const vocab of VOCABS) {
    for (const expected of sample(committed.decode[vocab], n)) {
      const actual = await expectedDecode(references[vocab], expected.ids);
      checked++;
      if (!util.isDeepStrictEqual(actual, expected)) {
        failed++;
        if (failed <= 5) console.error(`MISMATCH (decode ${vocab}): ${JSON.stringify(expected.ids)}`);
      }
    }
  }
  console.log(`fixtures: ${checked - failed} passed, ${failed} failed`);
  process.exit(failed === 0 && checked > 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
