// The /events page at a phone's width, as WeChat's in-app browser (its user agent, touch, Asia/Shanghai time) in
// Debian's Chromium. Prints a JSON verdict.
// Usage: node events-page.mjs BASE_URL ADMIN_BASIC VIEWER_LINK
//   ADMIN_BASIC: "user:password" sent as HTTP Basic (an admin); VIEWER_LINK: a signed view link to /events (?t=).
// The appliance's events have no pictures yet (recording is separate work): the admin run rewrites one motion event
// in the API's answer to carry thumbnail /snapshot and clip /stream, so showing and playing them in place is tested.
import { run } from './chromium.mjs';

const [base, adminBasic, viewerLink] = process.argv.slice(2);
const phone = {
  viewport: { width: 360, height: 640 }, isMobile: true, hasTouch: true, timezoneId: 'Asia/Shanghai', locale: 'zh-CN',
  userAgent: 'Mozilla/5.0 (Linux; Android 10; V2046A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.72 '
    + 'MQQBrowser/6.2 TBS/046011 Mobile Safari/537.36 MicroMessenger/8.0.40.2420(0x28002855) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN',
};

async function summary(page) {
  return page.evaluate(() => ({
    days: Array.prototype.map.call(document.querySelectorAll('h2.day'), (h) => h.textContent),
    cards: Array.prototype.map.call(document.querySelectorAll('.card'), (c) => c.id + ':' + c.getAttribute('data-kind')),
    placeholders: document.querySelectorAll('.card .placeholder').length,
    deleteButtons: document.querySelectorAll('.card button.delete').length,
    overflowsWidth: document.documentElement.scrollWidth > window.innerWidth,
    state: document.getElementById('state').textContent,
  }));
}

await run(base, async (browser, result) => {
  const consoleErrors = [];
  result.consoleErrors = consoleErrors; // also on failure, to say why
  const admin = await browser.newContext({ ...phone, extraHTTPHeaders: { Authorization: 'Basic ' + Buffer.from(adminBasic).toString('base64') } });
  const page = await admin.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('dialog', (d) => d.accept());
  await page.route((u) => u.pathname.endsWith('/api/events'), async (route) => {
    const response = await route.fetch();
    const doc = await response.json();
    for (const e of doc.events) {
      if (e.kind === 'motion' && e.source === 'with-clip') { e.thumbnail = '/snapshot'; e.clip = '/stream'; }
    }
    await route.fulfill({ response, json: doc });
  });

  // The live page links to the timeline.
  await page.goto(base, { waitUntil: 'domcontentloaded', timeout: 20000 });
  result.liveLink = await page.getAttribute('#events', 'href');
  await page.click('#events');
  try {
    await page.waitForFunction(() => document.querySelectorAll('.card').length > 0, null, { timeout: 20000 });
  } catch (e) {
    result.admin = await summary(page);
    throw e;
  }
  result.path = new URL(page.url()).pathname;
  result.admin = await summary(page);

  // The thumbnail shows; a tap plays the clip in place (the multipart stream paints the same <img>).
  const picture = page.locator('img.picture[data-clip]');
  await page.waitForFunction(() => { const i = document.querySelector('img.picture'); return i && i.naturalWidth > 0; }, null, { timeout: 20000 });
  result.thumbnailWidth = await picture.evaluate((i) => i.naturalWidth);
  await picture.click();
  await page.waitForFunction(() => { const i = document.querySelector('img.picture'); return i.getAttribute('data-playing') === '1' && i.naturalWidth > 0; }, null, { timeout: 20000 });
  result.playingSrc = new URL(await picture.getAttribute('src'), base).pathname;
  await picture.click(); // stop: closes the stream's connection
  result.stoppedSrc = new URL(await picture.getAttribute('src'), base).pathname;

  // Filter by kind.
  await page.selectOption('#kind', 'switch');
  await page.waitForFunction(() => { const c = document.querySelectorAll('.card'); return c.length > 0 && Array.prototype.every.call(c, (x) => x.getAttribute('data-kind') === 'switch'); }, null, { timeout: 20000 });
  result.filtered = await summary(page);
  await page.selectOption('#kind', '');
  await page.waitForFunction((n) => document.querySelectorAll('.card').length === n, result.admin.cards.length, { timeout: 20000 });

  // An admin deletes one.
  const first = result.admin.cards[0].split(':')[0];
  await page.click(`#${first} button.delete`);
  await page.waitForFunction((id) => !document.getElementById(id), first, { timeout: 20000 });
  result.deleted = first;
  result.afterDelete = await summary(page);
  await admin.close();

  // A viewer through a signed link: the same timeline, no delete buttons.
  const viewer = await browser.newContext(phone);
  const viewerPage = await viewer.newPage();
  await viewerPage.goto(viewerLink, { waitUntil: 'domcontentloaded', timeout: 20000 });
  await viewerPage.waitForFunction(() => document.querySelectorAll('.card').length > 0, null, { timeout: 20000 });
  result.viewer = await summary(viewerPage);
  result.viewerLiveLink = await viewerPage.getAttribute('#live', 'href');
  await viewer.close();
});
