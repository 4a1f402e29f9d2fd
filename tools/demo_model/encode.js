// Prints the token ids of each argument (one JSON array per line) with a model folder's
// tokenizer.json, using Hugging Face `tokenizers`; sample.py calls it to encode prompts.
//
// Usage: node encode.js MODEL_DIR TEXT...
"use strict";
const path = require("path");
const { Tokenizer } = require("tokenizers");

async function main() {
  const [modelDir, ...texts] = process.argv.slice(2);
  if (!modelDir || texts.length === 0) throw new Error("usage: node encode.js MODEL_DIR TEXT...");
  const tokenizer = Tokenizer.fromFile(path.join(modelDir, "tokenizer.json"));
  for (const text of texts) {
    console.log(JSON.stringify((await tokenizer.encode(text.normalize("NFC"))).getIds()));
  }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
