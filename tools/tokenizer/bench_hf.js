// Benchmark anchor: Hugging Face tokenizers encodeBatch/decodeBatch over a corpus, one thread.
// Driven by `Benchmarks tokenizer` over stdin so that its repetitions interleave with ours (the machine is shared).
// Run with TOKENIZERS_PARALLELISM=false so a batch is not spread over cores.
// Usage: node bench_hf.js FIXTURES_DIR CORPUS; then stdin lines "<vocab> encode|decode" → stdout JSON
//   {"wallSeconds", "cpuSeconds", "tokens"}; "<vocab> warmup" encodes once untimed.
'use strict';
const fs = require('fs');
const readline = require('readline');
const { loadReferences } = require('./hf_reference');

async function main() {
  const [fixtures, corpus] = process.argv.slice(2);
  const lines = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l.length > 0);
  const { gpt2, vi } = loadReferences(fixtures);
  const references = { gpt2, vi };
  const ids = {};
  const input = readline.createInterface({ input: process.stdin });
  console.log(JSON.stringify({ ready: true, lines: lines.length }));
  for await (const command of input) {
    const [vocab, op] = command.trim().split(' ');
    const tokenizer = references[vocab];
    const cpu = process.cpuUsage();
    const wall = process.hrtime.bigint();
    if (op === 'decode') {
      await tokenizer.decodeBatch(ids[vocab], false);
    } else {
      const encodings = await tokenizer.encodeBatch(lines);
      if (op === 'warmup') ids[vocab] = encodings.map((e) => e.getIds());
    }
    const wallSeconds = Number(process.hrtime.bigint() - wall) / 1e9;
    const used = process.cpuUsage(cpu);
    const tokens = ids[vocab].reduce((n, x) => n + x.length, 0);
    console.log(JSON.stringify({ wallSeconds, cpuSeconds: (used.user + used.system) / 1e6, tokens }));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
