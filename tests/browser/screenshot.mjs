// Takes one full-page screenshot in headless Chromium (the documentation's pictures are made this way, so they show
// what the code really serves). Usage: node screenshot.mjs URL OUT.png WIDTH HEIGHT [READY_EXPRESSION]
// READY_EXPRESSION is JavaScript evaluated in the page until it is true (default: every <img> has loaded).
// Prints a JSON verdict on the last line.
import { run } from './chromium.mjs';

const [url, out, width, height, ready] = process.argv.slice(2);
await run(url, async (browser, result) => {
  const page = await browser.newPage({ viewport: { width: Number(width), height: Number(height) }, deviceScaleFactor: 1 });
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(url, { waitUntil: 'load', timeout: 20000 });
  await page.waitForFunction(ready || (() => [...document.images].every((i) => i.complete && i.naturalWidth > 0)), null, { timeout: 20000 });
  await page.waitForTimeout(300); // let the picture settle (a stream frame, fonts)
  await page.screenshot({ path: out, fullPage: true });
  result.title = await page.title();
  result.text = (await page.evaluate(() => document.body.innerText)).slice(0, 4000);
  result.consoleErrors = consoleErrors;
});
