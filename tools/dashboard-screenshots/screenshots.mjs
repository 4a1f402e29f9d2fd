// Screenshots of the Aspire dashboard as a person sees it, for docs/aspire-and-kubernetes.md:
// the resources page and the trace of one /predict. Debian's chromium, driven by playwright-core
// (a plain `chromium --screenshot` gives a blank page: the dashboard renders over a live connection).
//
//   node screenshots.mjs <dashboard login URL> <gateway URL> <output folder>
//
// take.sh starts the AppHost, reads both URLs from its console and runs this.
import { chromium } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

const [loginUrl, gatewayUrl, outDir] = process.argv.slice(2);
if (!loginUrl || !gatewayUrl || !outDir) {
  console.error('usage: node screenshots.mjs <dashboard login URL> <gateway URL> <output folder>');
  process.exit(2);
}

// One /predict in a trace of our own, so the trace page can be opened by its id.
const traceId = randomBytes(16).toString('hex');
const predict = await fetch(new URL('/predict', gatewayUrl), {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
  body: JSON.stringify({ text: 'Hà Nội là thủ đô của', n_samples: 2 }),
});
console.log(`/predict: ${predict.status} ${(await predict.text()).slice(0, 200)}`);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 640 }, colorScheme: 'light' });
  const dashboard = new URL(loginUrl).origin;

  // The login URL sets the auth cookie and lands on the resources page.
  await page.goto(loginUrl);
  await page.getByText('gateway', { exact: true }).first().waitFor({ timeout: 60_000 });
  // Until every resource's health check has passed the page still shows them starting.
  await page.waitForFunction(() => (document.body.innerText.match(/Running/g) ?? []).length >= 3, null, { timeout: 60_000 });
  await page.waitForTimeout(1_000); // let the grid finish its last layout pass
  await page.screenshot({ path: path.join(outDir, 'dashboard-resources.png') });

  // The trace: its spans arrive in export batches, so reload until the backend's are there.
  for (let attempt = 0; ; attempt++) {
    await page.goto(`${dashboard}/traces/detail/${traceId}`);
    try {
      await page.getByText('backend', { exact: false }).first().waitFor({ timeout: 5_000 });
      await page.waitForFunction(() => /backend/.test(document.body.innerText) && /preprocessor/.test(document.body.innerText), null, { timeout: 5_000 });
      break;
    } catch (e) {
      if (attempt === 10) throw e;
    }
  }
  await page.waitForTimeout(1_000);
  await page.screenshot({ path: path.join(outDir, 'dashboard-predict-trace.png') });
  console.log(`trace ${traceId}: screenshots in ${outDir}`);
} finally {
  await browser.close();
}
