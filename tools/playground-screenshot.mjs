// Takes docs/images/playground.png: the playground of a running Gateway after one generation, in Debian's chromium.
// Needs the test's browser package: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/Gateway.Tests/Playground/browser
// Usage: node tools/playground-screenshot.mjs [gateway address (http://localhost:5000)] [output (docs/images/playground.png)]
import { withPage } from "../tests/Gateway.Tests/Playground/browser/chromium.mjs";

const [address = "http://localhost:5000", output = "docs/images/playground.png"] = process.argv.slice(2);

await withPage(async page => {
  await page.goto(address);
  await page.getByLabel("Lời nhắc").fill("Để chèn một bảng vào văn bản, bạn");
  await page.getByLabel("Số token tối đa").fill("40");
  await page.getByLabel("Hạt giống (seed)").fill("7");
  await page.getByRole("button", { name: "Tạo" }).click();
  await page.locator("#status", { hasText: /Xong\.|Lỗi\./ }).waitFor({ timeout: 120_000 });
  await page.screenshot({ path: output, fullPage: true });
}, { width: 900, height: 700 });
console.log(`wrote ${output}`);
