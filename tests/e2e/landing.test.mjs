// The landing page in a real browser: Debian's Chromium, driven by playwright-core, against the real
// gpuopt binary on a free port (tests/e2e/harness.mjs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { waitFor, startServer, launchBrowser, openPage as open, screenshot, overflowPx, PHONE, DESKTOP }
  from "./harness.mjs";

let server;
let baseUrl;
let browser;

before(async () => {
  server = await startServer();
  baseUrl = server.baseUrl;
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const openPage = (viewport) => open(browser, viewport);

test("plans come from the server's configuration", async () => {
  const { page, problems } = await openPage(DESKTOP);
  await page.goto(baseUrl + "/");
  await page.locator(".plan").nth(2).waitFor();
  const tiers = await page.locator(".plan").evaluateAll((cards) => cards.map((c) => c.dataset.tier));
  assert.deepEqual(tiers, ["free", "professional", "enterprise"]);
  const professional = await page.locator('.plan[data-tier="professional"]').innerText();
  assert.match(professional, /\$49/);
  assert.match(professional, /1,000 API requests per hour/);
  assert.match(professional, /Checkout opens soon/);  // no payment gateway is configured
  const free = await page.locator('.plan[data-tier="free"]').innerText();
  assert.match(free, /Up to 2 GPUs/);
  assert.match(free, /100 API requests per hour/);
  assert.doesNotMatch(free, /Checkout/);
  assert.deepEqual(problems, []);
  await page.close();
});

test("sign-up shows the key once, and the key works", async () => {
  const { page, problems } = await openPage(DESKTOP);
  await page.goto(baseUrl + "/");
  await page.fill("#email", "Browser.User@Example.com");
  await page.click("#signup-button");
  await page.locator("#key-box").waitFor({ state: "visible" });
  const key = (await page.locator("#api-key").innerText()).trim();
  assert.match(key, /^gopt_[A-Za-z0-9]{23}$/);
  assert.equal(await page.locator("#signup-form").isVisible(), false);
  await screenshot(page, "landing-signed-up.png");

  const me = await fetch(baseUrl + "/api/me", { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).email, "browser.user@example.com");

  // A reload never shows the key again.
  await page.reload();
  assert.equal(await page.locator("#key-box").isVisible(), false);
  assert.deepEqual(problems, []);
  await page.close();
});

test("sign-up errors are shown, not thrown", async () => {
  const { page, problems } = await openPage(DESKTOP);
  await page.goto(baseUrl + "/");
  await page.fill("#email", "not-an-email");
  await page.click("#signup-button");
  await page.locator("#signup-error").waitFor({ state: "visible" });
  assert.match(await page.locator("#signup-error").innerText(), /valid email/i);

  await page.fill("#email", "browser.user@example.com");  // taken by the previous test
  await page.click("#signup-button");
  await waitFor(async () => /already exists/.test(await page.locator("#signup-error").innerText()), 5000,
                "the conflict message");
  assert.equal(await page.locator("#key-box").isVisible(), false);
  // The 409 is an expected answer, which the browser logs as a failed resource load; nothing else.
  assert.deepEqual(problems.filter((p) => !/status of 409/.test(p)), []);
  await page.close();
});

test("the page fits a phone", async () => {
  const { page, problems } = await openPage(PHONE);
  await page.goto(baseUrl + "/");
  await page.locator(".plan").nth(2).waitFor();
  const overflow = await overflowPx(page);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await screenshot(page, "landing-phone.png");
  assert.deepEqual(problems, []);
  await page.close();
});
