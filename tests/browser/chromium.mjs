// Debian's Chromium (never a downloaded browser) as the browser tests start it, and the one-line JSON verdict they
// print: run(verdict => ...) fills the verdict, catches a failure into it (ok: false, error) and always closes.
// CHROMIUM_EXTRA_ARGS (space-separated) adds switches, e.g. --ignore-certificate-errors-spki-list=HASH to trust
// only a test server's key over https.
import { chromium } from 'playwright-core';

export async function run(url, fill) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      ...(process.env.CHROMIUM_EXTRA_ARGS ?? '').split(' ').filter((a) => a.length > 0)],
  });
  const result = { url };
  try {
    await fill(browser, result);
    result.ok = true;
  } catch (e) {
    result.ok = false;
    result.error = String(e?.stack ?? e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
}
