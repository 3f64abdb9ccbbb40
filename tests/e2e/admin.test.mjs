// The operator panel in Chromium against the real server: an operator made with `gpuopt admin create-user`
// (the password on stdin) signs in on /admin/login, lands on the revenue page, sees the audit log of the
// sign-in on /admin/security, turns on a TOTP second factor through the page (the code computed here as an
// authenticator app would), is signed out by it and signs in again with a code, checks the audit chain, and
// signs out; a wrong password shows the server's one answer; the panel's session is not a customer's.
// With customers signed up through the API (one with an agent's report), an operator finds one, opens it,
// changes its plan to Professional with a reason (the detail, the audit log and the revenue page follow),
// disables and enables it (its API key refused in between), deletes another, blocks an address by hand and
// lifts the block, and filters the security log; a pending payment through a stand-in Flutterwave is checked
// with the gateway (unknown, then applied once paid), its webhook listed, and a refund recorded. Every page on a phone (390 px) and a desktop (1280 px): no
// console error, no CSP violation, nothing wider than the screen, every table captioned, headings in order,
// no serious or critical axe-core finding. Screenshots go to GPUOPT_ARTIFACTS (build/dev/e2e-artifacts).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { waitFor, startServer, launchBrowser, screenshot, overflowPx, serverBin, watchedPage, axeFindings, structureFindings } from "./harness.mjs";
import { startFakeFlutterwave, WEBHOOK_HASH } from "./fake_flutterwave.mjs";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const PASSWORD = "correct horse battery staple";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const CUSTOMERS = ["alice@example.com", "bob@example.com", "carol@example.com"];

let fake;
let server;
let browser;
const keys = {};

before(async () => {
  fake = await startFakeFlutterwave();
  server = await startServer({ ADMIN_TOKEN, ...fake.env });
  browser = await launchBrowser();
  for (const email of ["ops@example.com", "second@example.com", "panel@example.com"]) {
    const made = spawnSync(serverBin, ["admin", "create-user", "--email", email, "--password-stdin", "--data-dir", server.dataDir], {
      cwd: server.dataDir,
      env: { PATH: "/usr/bin:/bin" },
      input: `${PASSWORD}\n`,
      encoding: "utf8",
    });
    assert.equal(made.status, 0, made.stdout + made.stderr);
  }
  // Customers as the landing page makes them; alice's agent reports two GPUs.
  for (const email of CUSTOMERS) {
    const signup = await http("POST", "/api/signup", { body: { email } });
    assert.equal(signup.status, 200, JSON.stringify(signup.json));
    keys[email] = signup.json.api_key;
  }
  await report(keys["alice@example.com"]);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (fake) await fake.close();
});

async function http(method, urlPath, { key, token, body, headers: extra = {} } = {}) {
  const headers = { "Content-Type": "application/json", ...extra };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (token) headers.Authorization = `Bearer ${ADMIN_TOKEN}`;
  const res = await fetch(server.baseUrl + urlPath, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, json: await res.json().catch(() => null) };
}

const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

// One agent report of the last hour: two GPUs on one host, one of them idle.
async function report(key) {
  const end = Math.floor(Date.now() / 60000) * 60000;
  const gpu = (i, util) => ({
    gpu_index: i, uuid: `GPU-e2e-host-${i}`, gpu_name: "NVIDIA A100-SXM4-40GB", gpu_util: util, util_max: util + 5,
    idle_fraction: util < 5 ? 1 : 0.05, mem_used: 20480, mem_total: 40960, cost_per_hour: 2.74,
    processes: [{ pid: 4100 + i, name: "python", used_mem: 20476, user: "alice" }],
  });
  const res = await http("POST", "/api/track-usage", {
    key,
    body: {
      report_id: `e2e-host-${end}`,
      agent: { id: "e2e-host", hostname: "e2e-host", version: "1.0.0" },
      window: { start: iso(end - 3600000), end: iso(end), samples: 60 },
      gpu_data: [gpu(0, 70), gpu(1, 0.5)],
    },
  });
  assert.equal(res.status, 200, JSON.stringify(res.json));
}

async function customerId(email) {
  const found = await http("GET", `/api/admin/customers?q=${encodeURIComponent(email)}`, { token: true });
  assert.equal(found.status, 200, JSON.stringify(found.json));
  const row = found.json.customers.find((c) => c.email === email);
  assert.ok(row, `${email} in ${JSON.stringify(found.json)}`);
  return row.id;
}

// RFC 6238 as an authenticator app computes it: HMAC-SHA1 of the 30-second step, six digits.
function totp(secret, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/\s/g, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, "0");
}

async function watched(viewport) {
  const context = await browser.newContext({ viewport });
  return { context, ...(await watchedPage(context)) };
}

async function signIn(page, email, code = "") {
  await page.fill("#email", email);
  await page.fill("#password", PASSWORD);
  if (code) await page.fill("#code", code);
  await Promise.all([page.waitForURL(/\/admin$/), page.click("#login-form button")]);
  await ready(page);
}

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.readyMs);
}

async function visit(page, urlPath) {
  await page.goto(server.baseUrl + urlPath);
  await ready(page);
}

// Drops the answers a refused sign-in brings (the 401 and the console's line about it) from `problems`.
function expectRefusedSignIn(problems) {
  const expected = problems.filter((p) => p.includes("401") && (p.includes("/api/admin/login") || p.includes("Failed to load resource")));
  assert.ok(expected.length >= 1, problems.join("\n"));
  problems.splice(0, problems.length, ...problems.filter((p) => !expected.includes(p)));
}

test("the panel's pages on a phone and a desktop: sign-in, the audit log, no console error, fits, passes axe-core", async () => {
  for (const [label, viewport] of [["phone", PHONE], ["desktop", DESKTOP]]) {
    const { context, page, problems } = await watched(viewport);
    // Not signed in: the panel sends the operator to sign in, and comes back after.
    await page.goto(server.baseUrl + "/admin");
    await page.waitForURL(/\/admin\/login\?next=%2Fadmin$/);
    assert.equal(await overflowPx(page), 0, `login on a ${label}`);
    assert.deepEqual(await axeFindings(page), [], `login on a ${label}`);
    await screenshot(page, `admin-login-${label}.png`);

    // A wrong password: the server's one answer, shown; the 401 it came with is expected.
    await page.fill("#email", "second@example.com");
    await page.fill("#password", "not the password at all");
    await page.click("#login-form button");
    await page.waitForSelector("#error:not([hidden])");
    assert.match(await page.textContent("#error"), /^Sign-in failed/);
    assert.equal(await page.inputValue("#password"), "", "the password is cleared");
    expectRefusedSignIn(problems);

    await signIn(page, "second@example.com");
    assert.match(await page.textContent("main h1"), /Revenue/);
    await page.click('nav a[href="/admin/security"]');
    await page.waitForURL(/\/admin\/security$/);
    await ready(page);
    assert.match(await page.textContent("main h1"), /Security/);
    assert.match(await page.textContent("#factor-state"), /Second factor: off/);
    const table = await page.textContent(".table-wrap");
    assert.match(table, /admin\.sign_in/);
    assert.match(table, /admin\.create/);
    assert.match(table, /failure/, "the wrong password is in the log");
    assert.equal(await overflowPx(page), 0, `the panel on a ${label}`);
    assert.deepEqual(await axeFindings(page), [], `the panel on a ${label}`);
    await screenshot(page, `admin-security-${label}.png`);

    // Signed in to the panel is not signed in to the customer's app.
    await page.goto(server.baseUrl + "/dashboard");
    await page.waitForURL(/\/login\?next=/);
    assert.deepEqual(problems, [], `on a ${label}`);
    await context.close();
  }
});

test("an operator turns on the second factor in the page, signs in with a code, checks the chain and signs out", async () => {
  const { context, page, problems } = await watched(DESKTOP);
  await page.goto(server.baseUrl + "/admin/login");
  await signIn(page, "ops@example.com");
  await visit(page, "/admin/security");
  await page.click("#factor-begin");
  await page.waitForSelector("#factor-secret");
  const secret = (await page.textContent("#factor-secret")).replace(/\s/g, "");
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await screenshot(page, "admin-factor-enrol-desktop.png");
  const step = Math.floor(Date.now() / 30000);
  await page.fill("#on-password", PASSWORD);
  await page.fill("#on-code", totp(secret, step));
  await Promise.all([page.waitForURL(/\/admin\/login\?signed_out=factor$/), page.click("#factor-on button")]);
  assert.match(await page.textContent("#error"), /second factor changed/);

  // The enrolment's code was used; the app's next one signs in.
  await signIn(page, "ops@example.com", totp(secret, step + 1));
  await visit(page, "/admin/security");
  assert.match(await page.textContent("#factor-state"), /Second factor: on/);
  assert.match(await page.textContent(".table-wrap"), /admin\.totp\.enable/);
  await page.click("text=Check the chain");
  await page.waitForSelector("#chain.ok");
  assert.match(await page.textContent("#chain"), /the chain is intact/);

  // Filter by who: only this operator's entries.
  await page.fill("#f-actor", "ops@example.com");
  await page.click("#audit-filters button");
  await waitFor(async () => !(await page.textContent(".table-wrap")).includes("second@example.com"), 5000, "the filter");
  assert.deepEqual(await axeFindings(page), []);
  await screenshot(page, "admin-security-factor-on-desktop.png");

  await Promise.all([page.waitForURL(/\/admin\/login$/), page.click("text=Sign out")]);
  await page.goto(server.baseUrl + "/admin");
  await page.waitForURL(/\/admin\/login\?next=%2Fadmin$/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("an operator finds a customer, changes its plan, disables and enables it, deletes another, blocks an address and lifts it", async () => {
  const { context, page, problems } = await watched(DESKTOP);
  // A sign-in with an address no operator has: refused, and kept in the security log.
  await page.goto(server.baseUrl + "/admin/login");
  await page.fill("#email", "nobody@example.com");
  await page.fill("#password", "not the password at all");
  await page.click("#login-form button");
  await page.waitForSelector("#error:not([hidden])");
  expectRefusedSignIn(problems);
  await signIn(page, "panel@example.com");
  assert.match(await page.textContent("main h1"), /Revenue/);

  // Find alice by a part of her address and open her page.
  await page.click('nav a[href="/admin/customers"]');
  await page.waitForURL(/\/admin\/customers$/);
  await ready(page);
  await page.fill("#c-q", "alice");
  await page.click("#c-filters button");
  await waitFor(async () => {
    const text = await page.locator("#main .table-wrap").first().innerText();
    return text.includes("alice@example.com") && !text.includes("bob@example.com");
  }, 5000, "the search");
  await Promise.all([page.waitForURL(/\/admin\/customers\?id=\d+$/), page.click('a:text("alice@example.com")')]);
  await ready(page);
  assert.equal((await page.textContent("main h1")).trim(), "alice@example.com");
  assert.match(await page.textContent('[data-fact="plan"]'), /Free/);
  assert.match(await page.textContent("main"), /GPU-e2e-host-1/, "her GPUs and their last report");
  const id = Number(new URL(page.url()).searchParams.get("id"));

  // Professional for a pilot: confirmed in the page, then the page shows it.
  await page.selectOption("#plan-select", "professional");
  await page.fill("#plan-reason", "e2e: a pilot, comped");
  await page.click('#plan-form button[type="submit"]');
  await page.locator("#customer-confirm").waitFor({ state: "visible" });
  assert.match(await page.textContent("#customer-confirm-title"), /from Free to Professional/);
  assert.deepEqual(await axeFindings(page), [], "the confirmation");
  await page.click("#customer-confirm-yes");
  await page.locator('[data-fact="plan"]', { hasText: "Professional" }).waitFor();
  await page.locator("#status.ok").waitFor();
  assert.match(await page.textContent('[data-fact="subscription"]'), /active/);
  assert.ok(await page.locator("#extend-form").isVisible(), "a paid period to extend");
  const after = await http("GET", `/api/admin/customers/${id}`, { token: true });
  assert.equal(after.json.customer.plan, "professional", JSON.stringify(after.json));
  await screenshot(page, "admin-customer-professional-1280.png");

  // Disabled: her key is refused; enabled again: it works.
  await page.fill("#state-reason", "e2e: checking an abuse report");
  await page.click('#state-form button[type="submit"]');
  await page.locator("#customer-confirm").waitFor({ state: "visible" });
  await page.click("#customer-confirm-yes");
  await page.locator('[data-fact="state"]', { hasText: "disabled" }).waitFor();
  assert.notEqual((await http("GET", "/api/me", { key: keys["alice@example.com"] })).status, 200, "a disabled customer's key");
  await page.fill("#state-reason", "e2e: all clear");
  await page.click('#state-form button[type="submit"]');
  await page.locator('[data-fact="state"]', { hasText: "enabled" }).waitFor();
  assert.equal((await http("GET", "/api/me", { key: keys["alice@example.com"] })).status, 200, "enabled again");

  // Carol is deleted: her address typed to confirm, with a reason.
  const carol = await customerId("carol@example.com");
  await visit(page, `/admin/customers?id=${carol}`);
  assert.equal(await page.locator("#delete-form button").isDisabled(), true, "nothing to click before the address is typed");
  await page.fill("#delete-confirm", "carol@example.com");
  await page.fill("#delete-reason", "e2e: she asked us to");
  await page.click("#delete-form button");
  await page.waitForURL(/\/admin\/customers$/);
  await page.locator("#status.ok", { hasText: "carol@example.com" }).waitFor();
  assert.equal((await http("GET", "/api/admin/customers?q=carol", { token: true })).json.customers.length, 0);

  // The audit log has the plan change; the security log the refused sign-in.
  await page.click('nav a[href="/admin/security"]');
  await page.waitForURL(/\/admin\/security$/);
  await ready(page);
  const audit = await page.locator("#main .table-wrap").first().innerText();
  assert.match(audit, /customer\.plan\.change/);
  assert.match(audit, /panel@example\.com/);
  await page.selectOption("#se-preset", "admin_sign_in_failed");
  assert.equal(await page.inputValue("#se-kind"), "admin_sign_in_failed");
  await waitFor(async () => {
    const region = page.locator('[aria-label="The security log, newest first"]');
    if ((await region.count()) && (await region.innerText()).includes("admin_sign_in_failed")) return true;
    await page.click("#se-filters button");
    await page.waitForTimeout(200);
    return false;
  }, 10000, "the failed sign-in in the security log");

  // An address blocked by hand (confirmed first), listed, then lifted.
  await page.fill("#block-ip", "203.0.113.9");
  await page.fill("#block-minutes", "30");
  await page.fill("#block-reason", "e2e: a scanner");
  await page.click('#block-form button[type="submit"]');
  await page.locator("#block-confirm").waitFor({ state: "visible" });
  await page.click("#block-confirm-yes");
  await page.locator('button[data-ip="203.0.113.9"]').waitFor();
  const blocks = await http("GET", "/api/admin/blocks", { token: true });
  assert.ok(blocks.json.blocks.some((b) => b.ip === "203.0.113.9" && b.source === "operator"), JSON.stringify(blocks.json));
  assert.deepEqual(await axeFindings(page), [], "the security page with a block");
  await screenshot(page, "admin-security-blocked-1280.png");
  await page.click('button[data-ip="203.0.113.9"]');
  await page.locator('button[data-ip="203.0.113.9"]').waitFor({ state: "detached" });
  const lifted = await http("GET", "/api/admin/blocks", { token: true });
  assert.ok(!lifted.json.blocks.some((b) => b.ip === "203.0.113.9"), JSON.stringify(lifted.json));

  // The revenue page counts alice's Professional: MRR 49.
  await page.click('nav a[href="/admin"]');
  await page.waitForURL(/\/admin$/);
  await ready(page);
  assert.match(await page.textContent('[data-kpi="mrr"] .kpi-value'), /\$49(\.00)?$/);
  assert.match(await page.textContent('[data-kpi="arr"] .kpi-value'), /\$588(\.00)?$/);
  assert.equal(await page.locator(".uplot").count(), 1, "the MRR chart");
  assert.match(await page.locator('[aria-label="MRR by plan this month"]').innerText(), /professional/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("an operator checks a pending payment with the gateway, which applies it once paid, and records a refund", async () => {
  // Bob starts an upgrade through the stand-in Flutterwave and has not paid yet.
  const checkout = await http("POST", "/api/upgrade", { key: keys["bob@example.com"], body: { tier: "professional", payment_method: "flutterwave" } });
  assert.equal(checkout.status, 200, JSON.stringify(checkout.json));
  const ref = checkout.json.payment_id;
  const { context, page, problems } = await watched(DESKTOP);
  await page.goto(server.baseUrl + "/admin/login");
  await signIn(page, "panel@example.com");
  await visit(page, "/admin/payments");
  await page.selectOption("#p-status", "pending");
  await page.click("#p-filters button");
  const verify = page.getByRole("button", { name: `Verify with the gateway now: ${ref}` });
  await verify.click();
  await page.locator("#verify-result", { hasText: ref }).waitFor();
  assert.match(await page.textContent("#verify-result"), /unchanged|retry/, "the gateway does not know it yet");

  // Paid at the gateway: checked again, it is applied.
  fake.checkouts.get(ref).paid = true;
  await verify.click();
  await page.locator("#verify-result", { hasText: "applied" }).waitFor();
  await waitFor(async () => (await http("GET", "/api/me", { key: keys["bob@example.com"] })).json.tier === "professional", 10000, "bob's plan");
  // The gateway's own webhook comes after: kept among the gateway events with what became of it.
  const hook = await http("POST", "/payment/flutterwave/webhook", { body: fake.webhookBody(ref), headers: { "verif-hash": WEBHOOK_HASH } });
  assert.equal(hook.status, 200, JSON.stringify(hook.json));
  await waitFor(async () => {
    await page.click("#ge-filters button");
    await page.waitForTimeout(200);
    const region = page.locator('[aria-label="Gateway events, newest first"]');
    return (await region.count()) > 0 && (await region.innerText()).includes(ref);
  }, 10000, "the webhook among the gateway events");

  // A refund made at the gateway's dashboard, recorded here with a reason after a confirmation.
  await page.selectOption("#p-status", "completed");
  await page.click("#p-filters button");
  await page.getByRole("button", { name: `Record refund: ${ref}` }).click();
  await page.locator("#refund-confirm").waitFor({ state: "visible" });
  await page.fill("#refund-confirm-reason", "e2e: refunded at Flutterwave");
  await page.click("#refund-confirm-yes");
  await page.locator("#status.ok", { hasText: ref }).waitFor();
  await page.locator('[aria-label="Payments, newest first"]', { hasText: "(refunded)" }).waitFor();
  const paid = await http("GET", "/api/admin/payments?status=completed", { token: true });
  assert.ok(paid.json.payments.some((p) => p.reference === ref && p.refunded), JSON.stringify(paid.json));
  assert.deepEqual(await axeFindings(page), []);
  await screenshot(page, "admin-payments-refunded-1280.png");
  assert.deepEqual(problems, []);
  await context.close();
});

// Own checks beside axe-core's: every data table has a caption, no object is written as text, headings go
// down one level at a time.
test("every panel page on a phone and a desktop: no console error or CSP violation, fits, passes axe-core", async () => {
  const alice = await customerId("alice@example.com");
  const pages = [
    ["revenue", "/admin", /Revenue/],
    ["customers", "/admin/customers", /Customers/],
    ["customer", `/admin/customers?id=${alice}`, /alice@example\.com/],
    ["payments", "/admin/payments", /Payments/],
    ["mail", "/admin/mail", /Mail/],
    ["security", "/admin/security", /Security/],
    ["system", "/admin/system", /System/],
  ];
  const findings = [];
  for (const viewport of [PHONE, DESKTOP]) {
    const context = await browser.newContext({ viewport });
    const login = await context.newPage();
    await login.goto(server.baseUrl + "/admin/login");
    await signIn(login, "panel@example.com");
    await login.close();
    for (const [name, urlPath, heading] of pages) {
      const { page, problems } = await watchedPage(context);
      const response = await page.goto(server.baseUrl + urlPath);
      assert.equal(response.status(), 200, urlPath);
      assert.match(response.headers()["content-security-policy"], /script-src 'self'; style-src 'self'/);
      await ready(page);
      const where = `${urlPath} at ${viewport.width} px`;
      assert.match(await page.textContent("main h1"), heading, where);
      assert.equal(await page.locator('nav a[aria-current="page"]').count(), 1, where);
      await screenshot(page, `admin-${name}-${viewport.width}.png`);
      const wider = await overflowPx(page);
      if (wider > 0) findings.push(`${where}: ${wider} px wider than the screen`);
      for (const f of await axeFindings(page)) findings.push(`${where}: ${f}`);
      for (const f of await structureFindings(page)) findings.push(`${where}: ${f}`);
      assert.deepEqual(problems, [], where);
      await page.close();
    }
    await context.close();
  }
  assert.deepEqual(findings, []);
});
