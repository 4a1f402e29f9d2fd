// Drives the playground at a Gateway address through one scenario and prints what the page showed, as JSON.
// Usage: node drive.mjs <stream|stop|invalid> <gateway base address>
import { withPage } from "./chromium.mjs";

const [scenario, address] = process.argv.slice(2);
// A guard against a page that never reaches the awaited state, not a speed requirement.
const hangGuard = 30_000;

async function panels(page) {
  return page.$$eval(".sample", elements => elements.map(e => ({
    index: Number(e.dataset.index),
    heading: e.querySelector("h3").textContent,
    prompt: e.querySelector(".prompt").textContent,
    completion: e.querySelector(".completion").textContent,
    text: e.querySelector("pre").textContent,
    stats: e.querySelector(".stats").textContent,
  })));
}

async function state(page) {
  return {
    status: await page.locator("#status").textContent(),
    error: await page.locator("#error").isVisible() ? await page.locator("#error").textContent() : null,
    generateEnabled: await page.locator("#generate").isEnabled(),
    stopEnabled: await page.locator("#stop-button").isEnabled(),
    samples: await panels(page),
  };
}

const scenarios = {
  // Fills every field, streams two samples; reports the request the browser sent too.
  async stream(page) {
    let sent = null;
    page.on("request", request => {
      if (request.url().endsWith("/v1/completions"))
        sent = { authorization: request.headers()["authorization"] ?? null, body: JSON.parse(request.postData()) };
    });
    await page.getByLabel("Lời nhắc").fill("Xin chào, tôi là");
    await page.getByLabel("Số token tối đa").fill("12");
    await page.getByLabel("Nhiệt độ").fill("0.7");
    await page.getByLabel("Top-k").fill("40");
    await page.getByLabel("Top-p").fill("0.9");
    await page.getByLabel("Số mẫu (n)").fill("2");
    await page.getByLabel("Hạt giống (seed)").fill("42");
    await page.getByLabel(/Chuỗi dừng/).fill("###\n\\n\\n");
    await page.getByLabel(/Khóa API/).fill("sk-playground");
    await page.getByRole("button", { name: "Tạo" }).click();
    await page.locator("#status", { hasText: "Xong." }).waitFor({ timeout: hangGuard });
    return { ...await state(page), sent };
  },

  // A generation that never ends on its own: the first text arrives, then Stop aborts the request.
  async stop(page) {
    await page.getByLabel("Lời nhắc").fill("Kể một câu chuyện dài");
    await page.getByRole("button", { name: "Tạo" }).click();
    await page.locator(".sample .completion", { hasText: "Nam" }).first().waitFor({ timeout: hangGuard });
    const beforeStop = await state(page);
    // The browser reports the aborted request as an event of its own, which can arrive after the page has shown
    // "stopped": wait for it rather than read whatever had arrived by then.
    const failed = page.waitForEvent("requestfailed", { predicate: r => r.url().endsWith("/v1/completions"), timeout: hangGuard });
    await page.getByRole("button", { name: "Dừng" }).click();
    await page.locator("#status", { hasText: "Đã dừng." }).waitFor({ timeout: hangGuard });
    const failure = (await failed).failure()?.errorText ?? null;
    return { ...await state(page), beforeStop, failure };
  },

  // The stream breaks after its first text (an SSE `event: error`): the text so far stays, the message shows.
  async broken(page) {
    await page.getByLabel("Lời nhắc").fill("Hà Nội");
    await page.getByRole("button", { name: "Tạo" }).click();
    await page.getByRole("alert").waitFor({ timeout: hangGuard });
    return state(page);
  },

  // An out-of-range temperature: the API's 400 message is shown; then the page switches to English.
  async invalid(page) {
    await page.getByLabel("Nhiệt độ").fill("5");
    await page.getByRole("button", { name: "Tạo" }).click();
    await page.getByRole("alert").waitFor({ timeout: hangGuard });
    const vietnamese = await state(page);
    await page.getByRole("button", { name: "English" }).click();
    return {
      ...vietnamese,
      lang: await page.evaluate(() => document.documentElement.lang),
      englishLabel: await page.locator("label[for=temperature]").textContent(),
      englishButton: await page.locator("#generate").textContent(),
      englishStatus: await page.locator("#status").textContent(),
    };
  },
};

if (!scenarios[scenario] || !address) {
  console.error(`usage: node drive.mjs <${Object.keys(scenarios).join("|")}> <gateway address>`);
  process.exit(2);
}
const result = await withPage(async page => {
  // Every request the page makes, so a test can see that it needs nothing but the Gateway (works offline).
  const origins = new Set();
  page.on("request", request => origins.add(new URL(request.url()).origin));
  page.setDefaultTimeout(hangGuard);
  await page.goto(address);
  return { ...await scenarios[scenario](page), origins: [...origins] };
});
console.log(JSON.stringify(result));
