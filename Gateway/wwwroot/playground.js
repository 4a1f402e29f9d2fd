// The Gateway's playground: streams POST /v1/completions (OpenAI SSE) into one panel per sample.
"use strict";

const texts = {
  vi: {
    title: "Sân thử GPT-J", prompt: "Lời nhắc", maxTokens: "Số token tối đa", temperature: "Nhiệt độ",
    topK: "Top-k", topP: "Top-p", n: "Số mẫu (n)", seed: "Hạt giống (seed)",
    stop: "Chuỗi dừng (mỗi dòng một chuỗi, \\n là xuống dòng)", apiKey: "Khóa API (không bắt buộc)",
    generate: "Tạo", stopButton: "Dừng", samples: "Các mẫu", sample: i => `Mẫu ${i + 1}`,
    streaming: "Đang sinh…", done: "Xong.", stopped: "Đã dừng.", failed: "Lỗi.",
    stats: (ttft, rate, tokens) => `Token đầu tiên sau ${ttft} · ${rate} token/giây · ${tokens} token`,
    finish: reason => `kết thúc: ${reason}`, httpError: status => `Máy chủ trả về HTTP ${status}.`,
  },
  en: {
    title: "GPT-J playground", prompt: "Prompt", maxTokens: "Max tokens", temperature: "Temperature",
    topK: "Top-k", topP: "Top-p", n: "Samples (n)", seed: "Seed",
    stop: "Stop sequences (one per line, \\n for a newline)", apiKey: "API key (optional)",
    generate: "Generate", stopButton: "Stop", samples: "Samples", sample: i => `Sample ${i + 1}`,
    streaming: "Generating…", done: "Done.", stopped: "Stopped.", failed: "Failed.",
    stats: (ttft, rate, tokens) => `First token after ${ttft} · ${rate} tokens/s · ${tokens} tokens`,
    finish: reason => `finish: ${reason}`, httpError: status => `The server answered HTTP ${status}.`,
  },
};

let language = "vi";
let running = null; // the AbortController of the request in flight
let statusKey = "";
const samples = []; // per choice index: { panel, completion, stats, firstAt, lastAt, tokens, finish }

const $ = id => document.getElementById(id);
const t = () => texts[language];

function setLanguage(lang) {
  language = lang;
  document.documentElement.lang = lang;
  for (const element of document.querySelectorAll("[data-text]"))
    element.textContent = t()[element.dataset.text];
  for (const button of document.querySelectorAll("[data-lang]"))
    button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
  samples.forEach(renderSample);
  setStatus(statusKey);
}

function setStatus(key) {
  statusKey = key;
  $("status").textContent = key ? t()[key] : "";
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

// Empty fields are left out so the API applies its own defaults.
function requestBody() {
  const body = { prompt: $("prompt").value, stream: true };
  for (const name of ["max_tokens", "temperature", "top_k", "top_p", "n", "seed"]) {
    const value = $(name).value.trim();
    if (value !== "") body[name] = Number(value);
  }
  const stop = $("stop").value.split("\n").filter(line => line !== "").map(line => line.replaceAll("\\n", "\n"));
  if (stop.length > 0) body.stop = stop;
  return body;
}

function sampleAt(index) {
  if (!samples[index]) {
    const panel = document.createElement("article");
    panel.className = "sample";
    panel.dataset.index = index;
    panel.innerHTML = '<h3></h3><pre><span class="prompt"></span><span class="completion"></span></pre><p class="stats"></p>';
    panel.querySelector(".prompt").textContent = $("prompt").value;
    samples[index] = { panel, tokens: 0, firstAt: 0, lastAt: 0, finish: null };
    // Choices may arrive out of order (several prompts or samples interleave): keep panels sorted.
    const next = samples.slice(index + 1).find(Boolean);
    $("samples").insertBefore(panel, next ? next.panel : null);
    renderSample(samples[index], index);
  }
  return samples[index];
}

function renderSample(sample, index) {
  sample.panel.querySelector("h3").textContent = t().sample(index);
  if (!sample.tokens) return;
  const ttft = `${Math.round(sample.firstAt - sample.startedAt)} ms`;
  // Decode rate: the tokens after the first, over the time since the first arrived.
  const seconds = (sample.lastAt - sample.firstAt) / 1000;
  const rate = sample.tokens > 1 && seconds > 0 ? ((sample.tokens - 1) / seconds).toFixed(1) : "—";
  let line = t().stats(ttft, rate, sample.tokens);
  if (sample.finish) line += ` · ${t().finish(sample.finish)}`;
  sample.panel.querySelector(".stats").textContent = line;
}

// Each SSE chunk of /v1/completions carries one token's text per choice.
function onChunk(chunk, startedAt) {
  const now = performance.now();
  for (const choice of chunk.choices ?? []) {
    const sample = sampleAt(choice.index);
    if (choice.text) {
      if (!sample.tokens) { sample.firstAt = now; sample.startedAt = startedAt; }
      sample.tokens++;
      sample.lastAt = now;
      sample.panel.querySelector(".completion").textContent += choice.text;
    }
    if (choice.finish_reason) sample.finish = choice.finish_reason;
    renderSample(sample, choice.index);
  }
}

async function errorMessage(response) {
  try {
    return (await response.json()).error.message;
  } catch {
    return t().httpError(response.status);
  }
}

// Splits a text/event-stream (WHATWG HTML §9.2) into events; yields { event, data }.
async function* serverSentEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length > 0) yield { event, data: data.join("\n") };
    }
  }
}

async function generate(event) {
  event.preventDefault();
  running?.abort();
  const controller = new AbortController();
  running = controller;
  samples.length = 0;
  document.querySelectorAll(".sample").forEach(panel => panel.remove());
  $("error").hidden = true;
  $("generate").disabled = true;
  $("stop-button").disabled = false;
  setStatus("streaming");

  const headers = { "Content-Type": "application/json" };
  const key = $("api_key").value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;
  const startedAt = performance.now();
  try {
    const response = await fetch("v1/completions", {
      method: "POST", headers, body: JSON.stringify(requestBody()), signal: controller.signal,
    });
    if (!response.ok) {
      showError(await errorMessage(response));
      setStatus("failed");
      return;
    }
    for await (const { event, data } of serverSentEvents(response.body)) {
      if (data === "[DONE]") break;
      const payload = JSON.parse(data);
      if (event === "error") {
        showError(payload.error.message);
        setStatus("failed");
        return;
      }
      onChunk(payload, startedAt);
    }
    setStatus("done");
  } catch (error) {
    if (controller.signal.aborted) {
      setStatus("stopped");
    } else {
      showError(String(error.message ?? error));
      setStatus("failed");
    }
  } finally {
    if (running === controller) running = null;
    $("generate").disabled = false;
    $("stop-button").disabled = true;
  }
}

$("request").addEventListener("submit", generate);
$("stop-button").addEventListener("click", () => running?.abort());
for (const button of document.querySelectorAll("[data-lang]"))
  button.addEventListener("click", () => setLanguage(button.dataset.lang));
