// Loads the appliance's page in headless Chromium, waits for the live picture, takes two screenshots a second
// apart and prints a JSON verdict: each shows a non-blank image and the two differ.
// Usage: node live-page.mjs URL OUTDIR
// CHROMIUM_EXTRA_ARGS (space-separated) adds switches (see chromium.mjs).
// BLOCK_STREAM plays a browser that cannot show the multipart stream: "abort" fails every stream request, "hang"
// leaves it pending without a byte (as in-app browsers that never paint multipart do); the page must fall back to
// polling snapshots. "abort-first" fails the stream requests of the first 3 s only (the appliance restarting): the
// page must poll snapshots, then go back to the live stream by itself.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './chromium.mjs';

const [url, outDir] = process.argv.slice(2);
await run(url, async (browser, result) => {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  const requests = { stream: 0, snapshot: 0 };
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith('/stream')) requests.stream++;
    if (path.endsWith('/snapshot')) requests.snapshot++;
  });
  const block = process.env.BLOCK_STREAM;
  if (block) {
    // A blocked stream errors in the page's console ("Failed to load resource"); that is the point here.
    const until = Date.now() + 3000;
    await page.route((u) => u.pathname.endsWith('/stream'), (route) => {
      if (block === 'abort' || (block === 'abort-first' && Date.now() < until)) route.abort();
      else if (block === 'abort-first') route.continue();
    });
  }
  const started = Date.now();
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 20000 });
  await page.waitForFunction(() => document.getElementById('live').naturalWidth > 0, null, { timeout: 20000 });
  result.msToPicture = Date.now() - started;
  if (block === 'abort-first') {
    await page.waitForFunction(() => document.getElementById('mode').textContent === 'snapshot mode', null, { timeout: 20000 });
    await page.waitForFunction(() => document.getElementById('mode').textContent === 'live stream' && document.getElementById('live').naturalWidth > 0,
      null, { timeout: 30000 });
    result.msToLiveAgain = Date.now() - started;
    await page.waitForTimeout(500);
  }

  // What the <img> shows, measured in the page: size, brightness spread (blank = no spread).
  const measure = () => page.evaluate(() => {
    const img = document.getElementById('live');
    const canvas = document.createElement('canvas');
    canvas.width = 64; canvas.height = 36;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0, 64, 36);
    const data = ctx.getImageData(0, 0, 64, 36).data;
    let min = 255, max = 0;
    for (let i = 0; i < data.length; i += 4) {
      const y = (data[i] + data[i + 1] + data[i + 2]) / 3;
      min = Math.min(min, y); max = Math.max(max, y);
    }
    return { width: img.naturalWidth, height: img.naturalHeight, spread: max - min, mode: document.getElementById('mode').textContent,
      state: document.getElementById('state').textContent };
  });

  const first = await page.locator('#live').screenshot();
  result.first = await measure();
  await page.waitForTimeout(1000);
  const second = await page.locator('#live').screenshot();
  result.second = await measure();
  writeFileSync(join(outDir, 'first.png'), first);
  writeFileSync(join(outDir, 'second.png'), second);
  result.screenshotsDiffer = Buffer.compare(first, second) !== 0;
  result.consoleErrors = block ? consoleErrors.filter((e) => !e.includes('Failed to load resource')) : consoleErrors;
  result.requests = { ...requests };

  // Hide the tab: the page must close the stream (the appliance's viewer count drops to zero).
  await page.evaluate(() => {
    Object.defineProperty(document, 'hidden', { value: true, configurable: true });
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await page.waitForTimeout(1500);
  result.modeWhenHidden = await page.evaluate(() => document.getElementById('mode').textContent);
});
