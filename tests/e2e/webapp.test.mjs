// The customer's web app in Chromium against the real server: the whole path from the landing page to a
// signed-out dashboard (sign-up, a sign-in link read from the mail outbox, the fleet's data on the overview,
// a recommendation dismissed, an upgrade through a stand-in Flutterwave and its receipt, a Slack webhook, the key rotated
// (the old one refused), sign-out); deleting the account from Settings; every page on a phone and a desktop
// with no console error, no CSP violation, nothing wider than the screen and no serious or critical axe-core
// finding; the overview of 64 GPUs × 30 days drawn in under a second; and the JavaScript and CSS a page
// loads under 150 KB compressed. Screenshots go to GPUOPT_ARTIFACTS (build/dev/e2e-artifacts).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { waitFor, startServer, launchBrowser, screenshot, overflowPx, artifacts, watchedPage, axeFindings } from "./harness.mjs";
import { startFakeFlutterwave, WEBHOOK_HASH } from "./fake_flutterwave.mjs";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

let fake;
let server;
let browser;

before(async () => {
  fake = await startFakeFlutterwave();
  server = await startServer({
    ...fake.env,
    MAIL_INTERVAL_SECONDS: "1",
    RATE_LIMIT_FREE: "0",
    RATE_LIMIT_PROFESSIONAL: "0",
    RAW_RETENTION_DAYS: "31",
  });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (fake) await fake.close();
});

async function api(method, urlPath, { key, body, headers = {} } = {}) {
  const res = await fetch(server.baseUrl + urlPath, {
    method,
    headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json().catch(() => null), headers: res.headers };
}

const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

// Reports for `hosts` × `perHost` GPUs, one window of `windowHours` each, back `count` windows from now.
async function seed(key, { hosts, perHost, count, windowHours, idleEvery = 3 }) {
  const now = Math.floor(Date.now() / 60000) * 60000;
  for (let w = count; w >= 1; w--) {
    const end = now - (w - 1) * windowHours * 3600000;
    for (let h = 0; h < hosts; h++) {
      const host = `host-${String(h).padStart(2, "0")}`;
      const gpus = [];
      for (let i = 0; i < perHost; i++) {
        const idle = (h * perHost + i) % idleEvery === 1;
        gpus.push({
          gpu_index: i, uuid: `GPU-${host}-${i}`, gpu_name: "NVIDIA A100-SXM4-40GB",
          gpu_util: idle ? 0.8 : 55 + ((w * 7 + i * 13) % 40), util_max: idle ? 1.5 : 98,
          idle_fraction: idle ? 1 : 0.05, mem_used: idle ? 20480 : 30000, mem_total: 40960, cost_per_hour: 2.74,
          processes: idle ? [{ pid: 4100 + i, name: "jupyter-lab", used_mem: 20476, user: "alice" }]
                          : [{ pid: 5100 + i, name: "python", used_mem: 29996, user: "bob" }],
        });
      }
      const res = await api("POST", "/api/track-usage", {
        key,
        body: {
          report_id: `${host}-${end}`,
          agent: { id: host, hostname: host, version: "1.0.0" },
          window: { start: iso(end - windowHours * 3600000), end: iso(end), samples: windowHours * 60 },
          gpu_data: gpus,
        },
      });
      assert.equal(res.status, 200, JSON.stringify(res.json));
    }
  }
}

// Pays for Professional through the stand-in gateway: checkout, the gateway learns of the payment, its webhook.
async function payFor(ref) {
  fake.checkouts.get(ref).paid = true;
  const hook = await api("POST", "/payment/flutterwave/webhook", { body: fake.webhookBody(ref), headers: { "verif-hash": WEBHOOK_HASH } });
  assert.equal(hook.status, 200, JSON.stringify(hook.json));
}

async function signedInContext(key, viewport) {
  const res = await api("POST", "/api/login/key", { body: { api_key: key } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const [pair] = res.headers.get("set-cookie").split(";");
  const [name, value] = pair.split("=");
  const context = await browser.newContext({ viewport });
  await context.addCookies([{ name, value, url: server.baseUrl }]);
  return context;
}

const watched = watchedPage;

// The link in the newest sign-in mail to `email` among the .eml files the file transport wrote.
function signInLinkFromOutbox(email) {
  const dir = path.join(server.dataDir, "outbox");
  if (!existsSync(dir)) return null;
  for (const file of readdirSync(dir).filter((f) => f.endsWith("-sign_in.eml"))) {
    const text = readFileSync(path.join(dir, file), "utf8");
    if (!text.includes(`To: <${email}>`)) continue;
    // The text part, base64 after its headers.
    const part = text.split(/\r?\n--/).find((p) => p.includes("Content-Type: text/plain"));
    const body = Buffer.from(part.split(/\r?\n\r?\n/)[1].replace(/\s+/g, ""), "base64").toString("utf8");
    const m = body.match(/https?:\/\/\S+\/login\/link\?token=[A-Za-z0-9]{43}/);
    if (m) return m[0];
  }
  return null;
}

test("a new customer signs up, signs in by mail, sees the fleet, dismisses a recommendation, upgrades, sets a Slack webhook, rotates the key and signs out", async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  const { page, problems } = await watched(context);
  await page.goto(server.baseUrl + "/");
  await page.fill("#email", "flow@example.com");
  await page.click("#signup-button");
  await page.locator("#key-box").waitFor({ state: "visible" });
  const key = (await page.locator("#api-key").innerText()).trim();
  await seed(key, { hosts: 1, perHost: 2, count: 48, windowHours: 1, idleEvery: 2 });

  // The sign-in link, by mail (the file transport writes it under the data dir).
  await page.click('#key-box a[href="/login"]');
  await page.waitForURL(/\/login$/);
  await page.fill("#email", "flow@example.com");
  await page.click("#link-form button");
  await page.locator("#link-sent").waitFor({ state: "visible" });
  assert.match(await page.locator("#link-sent").innerText(), /If an account uses this address/);
  let link = null;
  await waitFor(() => (link = signInLinkFromOutbox("flow@example.com")) !== null, 20000, "the sign-in mail");
  const local = server.baseUrl + new URL(link).pathname + new URL(link).search;  // BASE_URL names the default port
  await page.goto(local);
  await screenshot(page, "webapp-sign-in-link.png");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/dashboard$/);

  // The overview: this month's figures, the charts, the top recommendation, the idle GPU and who holds it.
  await page.waitForFunction(() => document.body.dataset.readyMs);
  const kpis = await page.locator(".kpis").innerText();
  assert.match(kpis, /Spend this month/);
  assert.match(kpis, /\$\d/);
  assert.equal(await page.locator(".uplot").count(), 2);
  assert.match(await page.locator(".rec-list").innerText(), /host-00/);
  const idle = await page.locator("section", { hasText: "Idle right now" }).innerText();
  assert.match(idle, /host-00 #1/);
  assert.match(idle, /jupyter-lab \(alice\)/);
  await screenshot(page, "webapp-flow-overview.png");

  // Dismiss a recommendation, with a note: it leaves the list and its totals, and is kept as marked.
  const before = (await api("GET", "/api/recommendations", { key })).json;
  assert.ok(before.recommendations.length >= 1);
  await page.click('a[href="/recommendations"]');
  await page.waitForURL(/\/recommendations$/);
  await page.waitForFunction(() => document.body.dataset.readyMs);
  const first = page.locator(".rec-stack .rec").first();
  const summary = (await first.locator("p").first().innerText()).trim();
  await first.locator("input").fill("a scratch box, on purpose");
  await first.locator("button", { hasText: "Dismiss" }).click();
  await page.locator("#status.ok").waitFor();
  await page.locator(".rec.marked", { hasText: summary }).waitFor();
  const after = (await api("GET", "/api/recommendations", { key })).json;
  assert.equal(after.marked.length, 1);
  assert.equal(after.marked[0].state, "dismissed");
  assert.equal(after.marked[0].note, "a scratch box, on purpose");
  assert.equal(after.recommendations.length, before.recommendations.length - 1);
  assert.ok(after.total_monthly_savings < before.total_monthly_savings);
  await screenshot(page, "webapp-flow-dismissed.png");

  // Upgrade through the gateway's hosted checkout, then back with the result.
  await page.click('a[href="/billing"]');
  await page.locator(".plan[data-tier=professional] button").first().click();
  await page.waitForURL(/\/pay\//);
  const ref = new URL(page.url()).pathname.split("/").pop();
  await payFor(ref);
  await waitFor(async () => (await api("GET", "/api/me", { key })).json.tier === "professional", 20000, "the plan");
  await page.goto(`${server.baseUrl}/payment/flutterwave/callback?status=successful&tx_ref=${ref}&transaction_id=${fake.checkouts.get(ref).id}`);
  assert.equal((await page.locator("h1").innerText()).trim(), "Your payment is confirmed.");
  await page.click('a[href="/billing"]');
  await page.waitForURL(/\/billing$/);
  await page.locator(".plan-now").waitFor();
  assert.match(await page.locator(".plan-now").innerText(), /Professional/);
  assert.match(await page.locator("main").innerText(), /successful|completed/);
  // The payment's receipt, from the table: a dialog that passes the scan and closes back to its button.
  await page.locator("button", { hasText: "View" }).first().click();
  const receipt = page.locator("dialog.receipt");
  await receipt.waitFor();
  const receiptText = await receipt.innerText();
  assert.match(receiptText, new RegExp(ref));
  assert.match(receiptText, /49\.00 USD/);
  assert.match(receiptText, /flow@example\.com/);
  assert.deepEqual(await axeFindings(page), []);
  await screenshot(page, "webapp-flow-receipt.png");
  await page.keyboard.press("Escape");
  await receipt.waitFor({ state: "detached" });

  // A Slack webhook for idle alerts (Professional has them).
  await page.click('a[href="/alerts"]');
  await page.locator("#alert-webhook:not([disabled])").waitFor();
  await page.fill("#alert-webhook", "https://hooks.slack.com/services/T000/B000/e2esecret");
  await page.click("text=Save alert settings");
  await page.locator("#status.ok").waitFor();
  const alerts = await api("GET", "/api/me/alerts", { key });  // before the rotation below
  assert.equal(alerts.json.webhook_url.includes("hooks.slack.com"), true);
  assert.equal(alerts.json.webhook_url.includes("e2esecret"), false, "shown masked");

  // Rotate the key in Settings: the new one is shown once, the old one is refused at once.
  await page.click('a[href="/settings"]');
  await page.waitForURL(/\/settings$/);
  await page.locator("button", { hasText: "Rotate" }).first().click();
  await page.locator("#new-key").waitFor();
  const rotated = (await page.locator("#new-key").innerText()).trim();
  assert.match(rotated, /^gopt_[A-Za-z0-9]{23}$/);
  assert.notEqual(rotated, key);
  assert.equal((await api("GET", "/api/me", { key })).status, 401);
  assert.equal((await api("GET", "/api/me", { key: rotated })).status, 200);
  await screenshot(page, "webapp-flow-key-rotated.png");

  // Sign out: the dashboard asks to sign in again.
  await page.click("text=Sign out");
  await page.waitForURL(/\/login$/);
  await page.goto(server.baseUrl + "/dashboard");
  await page.waitForURL(/\/login\?next=%2Fdashboard$/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("with a gateway configured, the landing page's paid plans sign up straight into the gateway's checkout", async () => {
  const context = await browser.newContext({ viewport: PHONE });
  const { page, problems } = await watched(context);
  await page.goto(server.baseUrl + "/");
  await page.locator('.plan[data-tier="professional"] button').first().click();
  assert.match(await page.locator("#chosen-plan").innerText(), /Professional/);
  await page.fill("#email", "paid@example.com");
  await page.click("#signup-button");
  await page.locator("#pay-next").waitFor({ state: "visible" });
  const key = (await page.locator("#api-key").innerText()).trim();
  assert.match(key, /^gopt_/);
  await screenshot(page, "webapp-landing-paid-signup.png");
  await page.click("#pay-link");
  await page.waitForURL(/\/pay\//);
  const ref = new URL(page.url()).pathname.split("/").pop();
  assert.ok(fake.checkouts.has(ref), "the checkout reached the gateway");
  const mine = await api("GET", "/api/me/payments", { key });
  assert.equal(mine.json.payments[0].payment_id, ref);
  assert.equal(mine.json.tier, "free", "no plan before the gateway confirms the money");
  assert.deepEqual(problems, []);
  await context.close();
});

test("a customer deletes the account from Settings, confirmed by typing its address, and a mail says so", async () => {
  const email = "leaving@example.com";
  const signup = await api("POST", "/api/signup", { body: { email } });
  const key = signup.json.api_key;
  await seed(key, { hosts: 1, perHost: 2, count: 6, windowHours: 1, idleEvery: 2 });
  const context = await signedInContext(key, PHONE);
  const { page, problems } = await watched(context);
  await page.goto(server.baseUrl + "/settings");
  await page.waitForFunction(() => document.body.dataset.readyMs);
  const button = page.locator("#delete-form button");
  assert.equal(await button.isDisabled(), true, "nothing to click before the address is typed");
  await page.fill("#delete-confirm", "someone@example.com");
  assert.equal(await button.isDisabled(), true);
  await page.fill("#delete-confirm", " Leaving@Example.com");
  assert.equal(await button.isDisabled(), false);
  await page.locator("#delete-form").scrollIntoViewIfNeeded();
  await screenshot(page, "webapp-settings-delete-phone.png");
  await button.click();
  await page.waitForURL(/\/login\?deleted=1$/);
  assert.match(await page.locator("#link-sent").innerText(), /account and its data were deleted/);
  await screenshot(page, "webapp-account-deleted-phone.png");
  assert.equal((await api("GET", "/api/me", { key })).status, 401, "its key stops at once");
  // The session went with it: the dashboard asks to sign in.
  await page.goto(server.baseUrl + "/dashboard");
  await page.waitForURL(/\/login\?next=%2Fdashboard$/);
  const dir = path.join(server.dataDir, "outbox");
  await waitFor(() => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith("-account_deleted.eml") &&
    readFileSync(path.join(dir, f), "utf8").includes(`To: <${email}>`)), 20000, "the mail saying the account was deleted");
  assert.deepEqual(problems, []);
  await context.close();
});

async function checkPage(context, p, label, findings) {
  const { page, problems } = await watched(context);
  const response = await page.goto(server.baseUrl + p);
  assert.equal(response.status(), 200, p);
  assert.match(response.headers()["content-security-policy"], /script-src 'self'; style-src 'self'/);
  if (p === "/") await page.locator(".plan").nth(2).waitFor();
  else if (p !== "/login") await page.waitForFunction(() => document.body.dataset.readyMs);
  const name = p === "/" ? "landing" : p.slice(1).replace(/\?.*/, "");
  await screenshot(page, `webapp-${name}-${label}.png`);
  assert.ok((await overflowPx(page)) <= 0, `${p} on a ${label} is wider than the screen`);
  for (const f of await axeFindings(page)) findings.push(`${p} (${label}): ${f}`);
  assert.deepEqual(problems, [], `${p} on a ${label}`);
  await page.close();
}

test("every page on a phone and a desktop: no console error or CSP violation, fits, and passes axe-core", async () => {
  const signup = await api("POST", "/api/signup", { body: { email: "pages@example.com" } });
  const key = signup.json.api_key;
  await seed(key, { hosts: 1, perHost: 2, count: 24, windowHours: 1, idleEvery: 2 });
  const signedIn = ["/dashboard", "/fleet", `/gpu?key=${encodeURIComponent("host-00/GPU-host-00-1")}`,
                    "/recommendations", "/alerts", "/billing", "/settings"];
  const findings = [];
  for (const [viewport, label] of [[PHONE, "phone"], [DESKTOP, "desktop"]]) {
    const visitor = await browser.newContext({ viewport });
    for (const p of ["/", "/login"]) await checkPage(visitor, p, label, findings);
    await visitor.close();
    const customer = await signedInContext(key, viewport);
    for (const p of signedIn) await checkPage(customer, p, label, findings);
    await customer.close();
  }
  assert.deepEqual(findings, []);
});

test("the overview of 64 GPUs over 30 days draws in under a second, within the page-weight budget", async () => {
  const signup = await api("POST", "/api/signup", { body: { email: "fleet64@example.com" } });
  const key = signup.json.api_key;
  const checkout = await api("POST", "/api/upgrade", { key, body: { tier: "professional", payment_method: "flutterwave" } });
  assert.equal(checkout.status, 200, JSON.stringify(checkout.json));
  await payFor(checkout.json.payment_id);
  await waitFor(async () => (await api("GET", "/api/me", { key })).json.tier === "professional", 20000, "the plan");
  await seed(key, { hosts: 8, perHost: 8, count: 30, windowHours: 24 });

  const context = await signedInContext(key, DESKTOP);
  const { page, problems } = await watched(context);
  const loaded = [];
  page.on("response", (r) => { if (/\.(js|css)$/.test(new URL(r.url()).pathname)) loaded.push(r); });
  // The 30-day view, loaded fresh: what the customer waits for, and the part of it spent drawing.
  await page.goto(server.baseUrl + "/dashboard?range=30d");
  await page.waitForFunction(() => document.body.dataset.readyMs);
  const timing = await page.evaluate(() => ({ drawMs: Number(document.body.dataset.drawMs), readyMs: Number(document.body.dataset.readyMs) }));
  assert.equal(await page.locator('.segmented button[aria-pressed="true"]').innerText(), "30 days");
  const kpiText = await page.locator(".kpis").innerText();
  assert.match(kpiText, /Spend this month/);
  // The projection carries this month's spend to its end: never below what was spent already.
  const [spent, , , projected] = [...kpiText.matchAll(/\$([\d,]+(?:\.\d+)?)/g)].map((m) => Number(m[1].replace(/,/g, "")));
  assert.ok(projected >= spent, kpiText);
  await screenshot(page, "webapp-overview-64-gpus.png");

  let total = 0;
  const sizes = {};
  for (const r of loaded) {
    const body = await r.body();
    sizes[new URL(r.url()).pathname] = gzipSync(body).length;
    total += gzipSync(body).length;
  }
  const figures = { gpus: 64, days: 30, ...timing, js_css_gzip_bytes: total, files: sizes };
  console.log(`overview figures: ${JSON.stringify(figures)}`);
  if (artifacts) writeFileSync(path.join(artifacts, "webapp-overview-figures.json"), JSON.stringify(figures, null, 2));
  assert.ok(timing.drawMs < 1000, `drawing took ${timing.drawMs} ms`);
  assert.ok(total < 150 * 1024, `the page loads ${total} bytes of JS and CSS, compressed`);
  assert.deepEqual(problems, []);
  await context.close();
});
