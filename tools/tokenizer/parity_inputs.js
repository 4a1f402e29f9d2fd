// Builds the parity inputs: deterministic (seeded) so the same corpus always gives the same strings.
'use strict';
const { END_OF_TEXT } = require('./hf_reference');

function prng(seed) {
  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ENGLISH = [
  "The quick brown fox jumps over the lazy dog.", "I'm sure they'll say it's fine, but we'd better check.",
  "Don't PANIC: it's only a test.", "You've got mail!", "He said: 'It's not mine' -- and left.",
  "Build the package with dpkg-buildpackage -us -uc.", "Press Ctrl+Shift+F10 to open the menu.",
  "GPT-J has 6 billion parameters and a 2048-token context window.", "Hello, world!", "OK", "e.g. i.e. etc.",
  "THE END", "rock'n'roll", "O'Reilly's book", "they're", "We'LL see", "can't won't shouldn't", "'s 't 're 've 'm 'll 'd",
];
const CODE = [
  'public static int Add(int a, int b) => a + b;', 'for (var i = 0; i < n; i++) { sum += x[i]; }',
  'def encode(text: str) -> list[int]:\n    return [ord(c) for c in text]', '{"text": "Xin chào", "top_k": 50, "top_p": 0.9}',
  'SELECT id, name FROM users WHERE name LIKE \'%Nguyễn%\';', '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); }',
  'curl -s -X POST http://127.0.0.1:8080/predict -d \'{"text":"Hà Nội"}\'', '    if x != None:\n\t\treturn x ** 2  # bình phương',
  'let re = /\\s+(?!\\S)/gu;', '<div class="vi">Tiếng Việt</div>', 'x=>x*2;;', 'a[i]+=b[j]*c[k]', '#!/bin/sh\nset -eu\n',
];
const EMOJI = [
  '👨‍👩‍👧‍👦', '👩🏽‍💻', '🏳️‍🌈', '🇻🇳', '🇺🇸🇻🇳', '👍🏿', '1️⃣', '❤️', '🧑‍🤝‍🧑', '😀', '🤖', '🎉🎉🎉', '🍜', '🫠', '©️', '™', '☕',
];
const WHITESPACE = [' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n ', '\u00a0', '\u3000', '\u2028', '\u0085', '\u200b', '\ufeff', '\u2003', '\u202f', '\u180e', '\v', '\f'];
const TLDS = ['vn', 'com', 'org', 'com.vn', 'edu.vn', 'io'];

/** First n code points (never splits a surrogate pair). */
function cut(s, n) {
  return Array.from(s).slice(0, n).join('');
}

function pick(rand, list) {
  return list[Math.floor(rand() * list.length)];
}

function int(rand, lo, hi) {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

function numbersAndDates(rand) {
  const d = int(rand, 1, 28), m = int(rand, 1, 12), y = int(rand, 1900, 2099);
  const pad = (v) => String(v).padStart(2, '0');
  return pick(rand, [
    () => `Ngày ${d} tháng ${m} năm ${y}`, () => `${pad(d)}/${pad(m)}/${y}`, () => `${y}-${pad(m)}-${pad(d)}T${pad(int(rand, 0, 23))}:${pad(int(rand, 0, 59))}:00Z`,
    () => `${int(rand, 1, 999)}.${int(rand, 100, 999)}.${int(rand, 100, 999)},${int(rand, 0, 99)} đồng`, () => `${(rand() * 1e6).toFixed(int(rand, 0, 6))}`,
    () => `-${int(rand, 0, 1e9)}`, () => `${int(rand, 1, 9)}e${int(rand, -20, 20)}`, () => `${int(rand, 0, 100)}%`, () => `+84 ${int(rand, 90, 99)} ${int(rand, 100, 999)} ${int(rand, 1000, 9999)}`,
    () => `thế kỷ ${pick(rand, ['XIX', 'XX', 'XXI'])}, năm ${y}`, () => `${int(rand, 0, 9)}${int(rand, 0, 9)}${int(rand, 0, 9)}${int(rand, 0, 9)}${int(rand, 0, 9)}${int(rand, 0, 9)}${int(rand, 0, 9)}`,
    () => `１２３ ٣٤٥ ३४५ ½ ⅔ Ⅻ ²³`, () => `v${int(rand, 0, 9)}.${int(rand, 0, 20)}.${int(rand, 0, 99)}`, () => `${int(rand, 1, 12)}:${pad(int(rand, 0, 59))} ${pick(rand, ['AM', 'PM', 'sáng', 'chiều'])}`,
  ])();
}

function url(rand, words) {
  const slug = Array.from({ length: int(rand, 1, 4) }, () => pick(rand, words).toLowerCase()).join('-');
  return pick(rand, [
    () => `https://www.${pick(rand, ['vnexpress', 'dantri', 'debian', 'libreoffice', 'example'])}.${pick(rand, TLDS)}/${slug}.html`,
    () => `http://127.0.0.1:${int(rand, 1024, 65535)}/v1/completions?stream=true&n=${int(rand, 1, 10)}`,
    () => `Xem https://vi.wikipedia.org/wiki/${encodeURIComponent(slug)} để biết thêm.`,
    () => `ftp://mirror.${pick(rand, TLDS)}/pub/${slug}/`, () => `mailto:${slug}@${pick(rand, ['gmail.com', 'vietai.org'])}`,
    () => `https://example.com/tìm-kiếm?q=${slug}#${slug}`,
  ])();
}

function unicodeSoup(rand) {
  // Long-assigned blocks only, so Unicode-version differences between engines cannot matter.
  const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff], [0x5d0, 0x5ea], [0x620, 0x64a],
    [0x900, 0x97f], [0xe00, 0xe5b], [0x1ea0, 0x1ef9], [0x2000, 0x206f], [0x20a0, 0x20bf], [0x2190, 0x21ff], [0x3040, 0x30ff],
    [0x4e00, 0x4fff], [0xac00, 0xad00], [0xff01, 0xff5e], [0x1f600, 0x1f64f], [0x1f300, 0x1f3ff], [0x1d400, 0x1d4ff], [0x10000, 0x1003f]];
  let s = '';
  const n = int(rand, 1, 40);
  for (let i = 0; i < n; i++) {
    const [lo, hi] = pick(rand, ranges);
    s += String.fromCodePoint(int(rand, lo, hi));
  }
  return s;
}

function endOfTextMix(rand, sentence) {
  const variants = [
    () => `${sentence}${END_OF_TEXT}${sentence}`, () => `${END_OF_TEXT}${sentence}`, () => `${sentence} ${END_OF_TEXT} `,
    () => `${END_OF_TEXT}${END_OF_TEXT}`, () => `<|endoftext|${sentence}`, () => `<<|endoftext|>>`, () => `${sentence}\n${END_OF_TEXT}\n`,
    () => `<|endoftext|>x<|endoftext|`, () => `<|ENDOFTEXT|> ${sentence}`, () => `${sentence}<|endof${END_OF_TEXT}text|>`,
  ];
  return pick(rand, variants)();
}

function whitespaceMix(rand, sentence) {
  const ws = () => Array.from({ length: int(rand, 1, 4) }, () => pick(rand, WHITESPACE)).join('');
  const parts = sentence.split(' ');
  return pick(rand, [
    () => `${ws()}${sentence}`, () => `${sentence}${ws()}`, () => `${ws()}${sentence}${ws()}`, () => parts.join(ws()),
    () => parts.map((p) => p + (rand() < 0.3 ? ws() : ' ')).join(''), () => ws(), () => `${sentence}\n\n\n${ws()}${sentence}`,
  ])();
}

/** At least 5,000 inputs: corpus paragraphs (NFC and NFD), mixes, numbers, URLs, code, emoji, whitespace, special tokens, long inputs, empty. */
function buildInputs(corpusText, seed = 20261122) {
  const rand = prng(seed);
  const paragraphs = corpusText.split('\n').filter((l) => l.trim().length > 0);
  const sentence = () => {
    const p = pick(rand, paragraphs);
    const words = p.split(' ');
    const start = int(rand, 0, Math.max(0, words.length - 1));
    return words.slice(start, start + int(rand, 1, 12)).join(' ');
  };
  const words = paragraphs.slice(0, 2000).join(' ').split(/\s+/).filter((w) => /^\p{L}+$/u.test(w));
  const inputs = [];
  const add = (kind, text) => inputs.push({ kind, text });

  add('empty', '');
  for (let i = 0; i < 1500; i++) add('vi-paragraph', pick(rand, paragraphs));
  for (let i = 0; i < 600; i++) add('vi-nfd', pick(rand, paragraphs).normalize('NFD'));
  for (let i = 0; i < 150; i++) add('vi-nfd-mixed', sentence().normalize('NFD') + ' ' + sentence());
  for (let i = 0; i < 500; i++) add('vi-en', rand() < 0.5 ? `${sentence()} ${pick(rand, ENGLISH)}` : `${pick(rand, ENGLISH)} ${sentence()}, ${pick(rand, ENGLISH)}`);
  for (let i = 0; i < 200; i++) add('en', pick(rand, ENGLISH) + (rand() < 0.5 ? ' ' + pick(rand, ENGLISH) : ''));
  for (let i = 0; i < 400; i++) add('numbers', rand() < 0.5 ? numbersAndDates(rand) : `${sentence()} ${numbersAndDates(rand)}.`);
  for (let i = 0; i < 300; i++) add('url', url(rand, words));
  for (let i = 0; i < 300; i++) add('code', rand() < 0.7 ? pick(rand, CODE) : `${pick(rand, CODE)}\n// ${sentence()}`);
  for (let i = 0; i < 300; i++) add('emoji', rand() < 0.5 ? `${sentence()} ${pick(rand, EMOJI)}${pick(rand, EMOJI)}` : `${pick(rand, EMOJI)}${sentence()}${pick(rand, EMOJI)}`);
  for (let i = 0; i < 500; i++) add('whitespace', whitespaceMix(rand, sentence()));
  for (let i = 0; i < 300; i++) add('endoftext', endOfTextMix(rand, sentence()));
  for (let i = 0; i < 300; i++) add('unicode', unicodeSoup(rand));
  const addedPieces = ['<mask>', '<sep>', 'Việt Nam', 'ab', 'ngườ', END_OF_TEXT, ' ', '  ', '\n', '\t', 'x', 'abc', '_', '(', ')', '1',
    'Việt', 'Nam', 'người', 'Vie\u0302\u0323t Nam', 'ViệtNam', '\u00a0'];
  for (let i = 0; i < 400; i++) {
    add('added-tokens', Array.from({ length: int(rand, 1, 8) }, () => (rand() < 0.15 ? sentence() : pick(rand, addedPieces))).join(''));
  }

  // Very long inputs (100 K chars each): corpus prose, one unbroken letter run, a digit run, a whitespace run, a mix of everything.
  const kb100 = 100 * 1024;
  let prose = '';
  while (prose.length < kb100) prose += pick(rand, paragraphs) + '\n';
  add('long-prose', cut(prose, kb100));
  add('long-word', Array.from({ length: kb100 / 4 }, () => pick(rand, ['anh', 'ngh', 'ươ', 'x'])).join(''));
  add('long-digits', Array.from({ length: kb100 }, () => String(int(rand, 0, 9))).join(''));
  add('long-whitespace', Array.from({ length: kb100 / 2 }, () => pick(rand, WHITESPACE)).join(''));
  let mixed = '';
  const pieces = [sentence, () => numbersAndDates(rand), () => url(rand, words), () => pick(rand, EMOJI), () => pick(rand, CODE),
    () => pick(rand, WHITESPACE), () => END_OF_TEXT, () => pick(rand, ENGLISH), () => cut(unicodeSoup(rand), 6)];
  while (mixed.length < kb100) mixed += pick(rand, pieces)() + ' ';
  add('long-mixed', mixed);
  for (const { kind, text } of inputs) {
    if (!text.isWellFormed()) throw new Error(`generated ${kind} input is not well-formed UTF-16`);
  }
  return inputs;
}

/** Random id sequences (including special and out-of-vocabulary ids) to pin down decoding of arbitrary model output. */
function buildIdSequences(vocabSize, endOfTextId, count, seed) {
  const rand = prng(seed);
  const id = () => {
    const r = rand();
    return r < 0.03 ? vocabSize + int(rand, 0, 200) : r < 0.08 ? endOfTextId : int(rand, 0, vocabSize - 1);
  };
  return Array.from({ length: count }, () => Array.from({ length: int(rand, 1, 24) }, id));
}

module.exports = { buildInputs, buildIdSequences, prng };
