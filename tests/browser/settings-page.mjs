// The admin's settings page in headless Chromium, as a LAN visitor: log in, save camera settings (the page says when
// they apply), try a bad value (the browser's own check, then the server's answer when the check is bypassed), test
// the WeCom app, then change the password (every login ends: back at the login form). Prints a JSON verdict.
// Usage: node settings-page.mjs URL PASSWORD NEWPASSWORD CORPID SECRET
import { run } from './chromium.mjs';

const [url, password, newPassword, corpId, secret] = process.argv.slice(2);
await run(url, async (browser, result) => {
  const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
  await page.goto(new URL('settings', url).toString());
  result.askedToLogIn = new URL(page.url()).pathname === '/login';
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForURL((u) => u.pathname === '/settings'), page.click('button[type="submit"]')]);
  result.title = await page.title();
  result.secretShown = (await page.content()).includes(secret);

  // The live page links an admin to the settings (the link is hidden from everyone else).
  await page.goto(url, { waitUntil: 'domcontentloaded' }); // the live stream never finishes loading
  await Promise.all([page.waitForURL((u) => u.pathname === '/settings', { waitUntil: 'domcontentloaded' }), page.click('#settings')]);
  result.linkedFromLivePage = true;

  await page.fill('input[name="fps"]', '12');
  await page.fill('input[name="quality"]', '65');
  await Promise.all([page.waitForNavigation(), page.click('button[value="camera"]')]);
  result.cameraStatus = await page.textContent('[role="status"]');

  // A value the browser would refuse (odd width): bypass its check to see the server's answer in the page.
  await page.goto(new URL('settings', url).toString());
  await page.$eval('input[name="width"]', (e) => { e.removeAttribute('step'); e.value = '641'; });
  const [bad] = await Promise.all([page.waitForNavigation(), page.click('button[value="camera"]')]);
  result.badStatus = bad.status();
  result.badAlert = await page.textContent('[role="alert"]');

  await page.goto(new URL('settings', url).toString());
  await page.fill('input[name="corpId"]', corpId);
  await page.fill('input[name="agentId"]', '1000002');
  await page.fill('input[name="secret"]', secret);
  await Promise.all([page.waitForNavigation(), page.click('button[value="test"]')]);
  result.wecomStatus = await page.textContent('[role="status"]');
  result.secretShownAfterTest = (await page.content()).includes(secret);

  await page.goto(new URL('settings', url).toString());
  await page.fill('input[name="password"]', newPassword);
  await page.fill('input[name="confirm"]', newPassword);
  await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('button[value="password"]')]);
  result.afterPasswordChange = new URL(page.url()).pathname + new URL(page.url()).search;
  await page.goto(new URL('settings', url).toString());
  result.settingsAfterChange = new URL(page.url()).pathname;
});
