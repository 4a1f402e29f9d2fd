// Computes the expected value of every parity case with Hugging Face tokenizers (shared by the generator and the CI check).
'use strict';
const { expectationFor } = require('./hf_reference');

const VOCABS = ['gpt2', 'vi', 'viOptions'];

/** Expected encode/decode results for one input under every vocabulary; `nfc` holds the ids of the NFC form when it differs. */
async function expectedCase(references, input) {
  const result = { kind: input.kind, text: input.text };
  const nfcText = input.text.normalize('NFC');
  for (const vocab of VOCABS) {
    // The option-laden vocabulary is about added tokens and prefix spaces; the 100 KB inputs add nothing there.
    if (vocab === 'viOptions' && input.kind.startsWith('long-')) continue;
    const e = await expectationFor(references[vocab], input.text);
    result[vocab] = { ids: e.ids };
    // Store decoded text only where it differs from the input (keeps the file small; the test falls back to the input).
    if (e.text !== input.text) result[vocab].decoded = e.text;
    if (e.skipSpecial !== e.text) result[vocab].decodedSkipSpecial = e.skipSpecial;
    if (nfcText !== input.text) result[vocab].nfcIds = (await references[vocab].encode(nfcText)).getIds();
  }
  return result;
}

/** Expected decoding of an arbitrary id sequence, with and without special tokens. */
async function expectedDecode(tokenizer, ids) {
  return { ids, text: await tokenizer.decode(ids, false), skipSpecial: await tokenizer.decode(ids, true) };
}

module.exports = { VOCABS, expectedCase, expectedDecode };
