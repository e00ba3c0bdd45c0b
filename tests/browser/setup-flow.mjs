// The first run as a visitor from the LAN sees it, in headless Chromium: the "no password yet" page links to the
// setup page; a wrong setup code is refused with the page's error; the right code and a password log the visitor in
// and land on the live page; /setup then says it is already set. Prints a JSON verdict (one line).
// Usage: node setup-flow.mjs URL CODE WRONGCODE PASSWORD
import { run } from './chromium.mjs';

const [url, code, wrongCode, password] = process.argv.slice(2);
await run(url, async (browser, result) => {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const first = await page.goto(url);
  result.firstStatus = first.status();
  result.firstHeading = await page.textContent('h1');

  await page.click('a[href="setup"]');
  await page.waitForURL('**/setup');
  result.asksForCode = (await page.locator('input[name="code"]').count()) === 1;

  // The browser itself refuses a short password (minlength): nothing is posted.
  await page.fill('input[name="code"]', code);
  await page.fill('input[name="password"]', 'short');
  await page.fill('input[name="confirm"]', 'short');
  let posted = 0;
  page.on('request', (r) => { if (r.method() === 'POST') posted++; });
  await page.click('button[type="submit"]');
  await page.waitForTimeout(300);
  result.shortPasswordPosted = posted;
  result.shortPasswordValidation = await page.$eval('input[name="password"]', (e) => e.validationMessage);

  await page.fill('input[name="code"]', wrongCode);
  await page.fill('input[name="password"]', password);
  await page.fill('input[name="confirm"]', password);
  const [wrong] = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  result.wrongCodeStatus = wrong.status();
  result.wrongCodeAlert = await page.textContent('[role="alert"]');

  await page.fill('input[name="code"]', code);
  await page.fill('input[name="password"]', password);
  await page.fill('input[name="confirm"]', password);
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('button[type="submit"]')]);
  result.landedOn = new URL(page.url()).pathname;
  result.landedTitle = await page.title();
  result.cookies = (await page.context().cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly }));

  const again = await page.goto(new URL('setup', url).toString());
  result.setupAgainStatus = again.status();
  result.setupAgainHeading = await page.textContent('h1');
});
