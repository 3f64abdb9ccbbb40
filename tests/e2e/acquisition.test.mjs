// Acquisition in Chromium against the real server. A visitor arriving with /?ref=launch asks for the free
// audit on the landing page (the consent text comes from the server); the confirmation link the server
// wrote to its outbox opens a page whose button confirms; the audit sequence's first mail carries a one-click
// unsubscribe link whose page changes nothing until its button is pressed. A visitor who arrives with a
// referral code and signs up days later is credited to it. An operator works the funnel in the panel: the
// funnel page counts these leads by source, GitHub prospects (from a stand-in GitHub on loopback, found with
// `gpuopt acquire discover`) are recorded as contacted with a referral code, a sequence is paused and
// resumed, a domain suppressed, a lead marked replied and another erased. Every page on a phone (390 px) and a
// desktop (1280 px): 200 with the strict CSP, no console error or CSP violation, nothing wider than the
// screen, captions and heading order, no serious or critical axe-core finding; screenshots in
// GPUOPT_ARTIFACTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import path from "node:path";
import { waitFor, startServer, launchBrowser, screenshot, overflowPx, serverBin, watchedPage, axeFindings, structureFindings } from "./harness.mjs";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const PASSWORD = "correct horse battery staple";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const GITHUB_TOKEN = "github_pat_e2e";

// Sends at any hour without jitter, so the test need not wait for working hours.
const SETTINGS = {
  github: { queries: [{ name: "gpu", q: "topic:cuda" }], max_pages: 1, per_page: 10 },
  sending: { daily_cap: 50, domain_interval_minutes: 0, jitter_minutes: 0,
             window: { start_hour: 0, end_hour: 24, days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] } },
  audit: { data_hours: 24, link_valid_hours: 72, consent_text: "I agree to receive my free GPU cost audit and three emails about it." },
  sequences: [
    { name: "audit", segment: "audit_confirmed", goal: "activated",
      steps: [{ delay_hours: 0, subject: "Your audit: the one step it needs", text: "Sign up: {{signup_url}}" },
              { delay_hours: 72, subject: "Your audit is waiting", text: "{{agent_url}}" }] },
    { name: "activation", segment: "signup_no_agent", goal: "activated",
      steps: [{ delay_hours: 24, subject: "Your GPUs have not reported yet", text: "{{agent_url}}" }] },
  ],
};

let github;
let settingsDir;
let server;
let browser;

// A stand-in for GitHub's search and account look-ups: three repositories of two owners.
async function startFakeGithub() {
  const repos = [
    { owner: "acme-ai", type: "Organization", name: "trainer", stars: 800, forks: 70, topics: ["cuda", "pytorch"] },
    { owner: "acme-ai", type: "Organization", name: "serve", stars: 120, forks: 9, topics: ["inference"] },
    { owner: "solo-dev", type: "User", name: "cuda-notes", stars: 3, forks: 0, topics: [] },
  ];
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, "http://github");
    const send = (status, body) => {
      res.writeHead(status, { "Content-Type": "application/json", "x-ratelimit-remaining": "29", "x-ratelimit-reset": "9999999999" });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${GITHUB_TOKEN}`) return send(401, { message: "Bad credentials" });
    if (url.pathname === "/search/repositories") {
      return send(200, {
        total_count: repos.length,
        incomplete_results: false,
        items: repos.map((r, i) => ({
          id: i + 1, name: r.name, full_name: `${r.owner}/${r.name}`, html_url: `https://github.com/${r.owner}/${r.name}`,
          description: r.name, fork: false, archived: false, stargazers_count: r.stars, forks_count: r.forks,
          pushed_at: new Date(Date.now() - 3 * 86400000).toISOString().replace(/\.\d+Z$/, "Z"), topics: r.topics,
          owner: { login: r.owner, type: r.type, html_url: `https://github.com/${r.owner}` },
        })),
      });
    }
    const login = url.pathname.replace(/^\/(users|orgs)\//, "");
    return send(200, { login, type: login === "acme-ai" ? "Organization" : "User", name: login === "acme-ai" ? "Acme AI" : "",
                       blog: login === "acme-ai" ? "acme.ai" : "", email: `${login}@github-profile.example` });
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) };
}

before(async () => {
  github = await startFakeGithub();
  settingsDir = mkdtempSync(path.join(tmpdir(), "gpuopt-acquisition-"));
  const settingsFile = path.join(settingsDir, "acquisition.json");
  writeFileSync(settingsFile, JSON.stringify(SETTINGS));
  server = await startServer({
    ADMIN_TOKEN,
    SECRET_KEY: "e2e-secret-key-0123456789abcdefghijklmnop",
    POSTAL_ADDRESS: "1 Main St, Springfield",
    SENDER_EMAIL: "hello@gpuopt.test",
    MAIL_INTERVAL_SECONDS: "1",
    SEQUENCE_INTERVAL_SECONDS: "1",
    ACQUISITION_CONFIG: settingsFile,
    GITHUB_TOKEN,
    GITHUB_API_URL: github.url,
    DISCOVERY_INTERVAL_SECONDS: "86400",
  });
  browser = await launchBrowser();
  const made = spawnSync(serverBin, ["admin", "create-user", "--email", "ops@example.com", "--password-stdin", "--data-dir", server.dataDir], {
    cwd: server.dataDir, env: { PATH: "/usr/bin:/bin" }, input: `${PASSWORD}\n`, encoding: "utf8",
  });
  assert.equal(made.status, 0, made.stdout + made.stderr);
  // Not spawnSync: the stand-in GitHub answers from this process's event loop.
  const found = await run(serverBin, ["acquire", "discover", "--data-dir", server.dataDir], {
    cwd: server.dataDir,
    env: { PATH: "/usr/bin:/bin", GITHUB_TOKEN, GITHUB_API_URL: github.url, ACQUISITION_CONFIG: settingsFile },
  });
  assert.equal(found.status, 0, found.output);
  assert.match(found.output, /acme-ai/);
});

function run(bin, args, options) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => { output += d; });
    child.stderr.on("data", (d) => { output += d; });
    child.on("exit", (status) => resolve({ status, output }));
  });
}

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (github) await github.close();
  if (settingsDir) rmSync(settingsDir, { recursive: true, force: true });
});

async function api(method, urlPath, { token, body } = {}) {
  const res = await fetch(server.baseUrl + urlPath, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

// The decoded text part of every mail the server wrote to its outbox folder, with its headers.
function outbox() {
  const dir = path.join(server.dataDir, "outbox");
  let files = [];
  try { files = readdirSync(dir).filter((f) => f.endsWith(".eml")); } catch { return []; }
  return files.map((f) => {
    const raw = readFileSync(path.join(dir, f), "utf8");
    const header = (name) => (raw.match(new RegExp(`^${name}: (.*)$`, "mi")) || [])[1] || "";
    const part = raw.split(/Content-Type: text\/plain; charset=UTF-8\r?\nContent-Transfer-Encoding: base64\r?\n\r?\n/)[1] || "";
    const text = Buffer.from(part.split(/\r?\n--/)[0].replace(/\s+/g, ""), "base64").toString("utf8");
    return { to: header("To"), subject: header("Subject"), unsubscribe: header("List-Unsubscribe"), text };
  });
}

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.readyMs);
}

async function signIn(context) {
  const page = await context.newPage();
  await page.goto(server.baseUrl + "/admin/login");
  await page.fill("#email", "ops@example.com");
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForURL(/\/admin$/), page.click("#login-form button")]);
  await page.close();
}

async function checkPage(page, where, findings) {
  await screenshot(page, `${where}.png`);
  const wider = await overflowPx(page);
  if (wider > 0) findings.push(`${where}: ${wider} px wider than the screen`);
  for (const f of await axeFindings(page)) findings.push(`${where}: ${f}`);
  for (const f of await structureFindings(page)) findings.push(`${where}: ${f}`);
}

test("the audit form is double opt-in, and a sequence mail's unsubscribe page asks before it acts", async () => {
  const findings = [];
  const context = await browser.newContext({ viewport: PHONE });
  const { page, problems } = await watchedPage(context);
  await page.goto(server.baseUrl + "/?ref=launch#audit");
  await waitFor(async () => /three emails/.test(await page.locator("#audit-consent-text").innerText()), 5000, "the server's consent text");
  await page.fill("#audit-email", "ada@acme.io");
  await page.fill("#audit-name", "Ada Lovelace");
  await page.click("#audit-button");
  await page.locator("#audit-error").waitFor({ state: "visible" });
  assert.match(await page.locator("#audit-error").innerText(), /tick the box/);
  await page.check("#audit-consent");
  await page.click("#audit-button");
  await page.locator("#audit-done").waitFor({ state: "visible" });
  assert.match(await page.locator("#audit-done").innerText(), /Nothing else is sent until you open it/);
  await checkPage(page, "acquisition-landing-audit-390", findings);

  // The confirmation, and nothing else, until the link's button is pressed.
  let confirm;
  await waitFor(() => (confirm = outbox().find((m) => /Confirm your GPU cost audit/.test(m.subject))) !== undefined, 20000, "the confirmation mail");
  const link = confirm.text.match(/(\/audit\/confirm\?t=\w+)/)[1];
  assert.equal(outbox().length, 1);
  const opened = await page.goto(server.baseUrl + link);
  assert.equal(opened.status(), 200);
  assert.match(opened.headers()["content-security-policy"], /script-src 'self'/);
  await checkPage(page, "acquisition-confirm-page-390", findings);
  const leads = await api("GET", "/api/admin/acquisition/leads?status=pending", { token: ADMIN_TOKEN });
  assert.equal(leads.json.leads.length, 1, "opening the link changed nothing");
  await Promise.all([page.waitForLoadState(), page.getByRole("button", { name: "Confirm my audit request" }).click()]);
  await waitFor(async () => /is confirmed/.test(await page.locator("h1").innerText()), 5000, "the confirmed page");
  await checkPage(page, "acquisition-confirmed-390", findings);

  // The audit sequence's first mail, with its one-click unsubscribe.
  let step;
  await waitFor(() => (step = outbox().find((m) => /the one step it needs/.test(m.subject))) !== undefined, 20000, "the first audit step");
  assert.match(step.text, /1 Main St, Springfield/);
  const unsubscribe = step.unsubscribe.match(/<https?:\/\/[^/]+(\/unsubscribe\?[^>]+)>/)[1];
  const shown = await page.goto(server.baseUrl + unsubscribe);
  assert.equal(shown.status(), 200);
  assert.equal((await page.locator("h1").innerText()).trim(), "Stop these emails?");
  await checkPage(page, "acquisition-unsubscribe-page-390", findings);
  const still = await api("GET", "/api/admin/acquisition/leads?status=active", { token: ADMIN_TOKEN });
  assert.equal(still.json.leads.length, 1, "the page alone unsubscribes nobody");
  await Promise.all([page.waitForLoadState(), page.getByRole("button", { name: "Unsubscribe" }).click()]);
  await waitFor(async () => /You are unsubscribed/.test(await page.locator("h1").innerText()), 5000, "the unsubscribed page");
  const gone = await api("GET", "/api/admin/acquisition/leads?status=unsubscribed", { token: ADMIN_TOKEN });
  assert.equal(gone.json.leads.length, 1);
  assert.deepEqual(problems, []);
  await context.close();
  assert.deepEqual(findings, []);
});

test("a referral code is remembered through signup and credited to its source", async () => {
  const ops = await browser.newContext({ viewport: DESKTOP });
  await signIn(ops);
  const made = await ops.request.post(server.baseUrl + "/api/admin/acquisition/referrals", {
    data: { code: "launch", label: "launch post" },
    headers: { "X-CSRF-Token": await csrf(ops) },
  });
  assert.equal(made.status(), 200, await made.text());
  await ops.close();

  const context = await browser.newContext({ viewport: DESKTOP });
  const { page, problems } = await watchedPage(context);
  await page.goto(server.baseUrl + "/?ref=launch");
  await page.goto(server.baseUrl + "/");  // later, without the code in the address
  await page.fill("#email", "cyd@charlie.example");
  await page.click("#signup-button");
  await page.locator("#key-box").waitFor({ state: "visible" });
  const leads = await api("GET", "/api/admin/acquisition/leads?source=referral", { token: ADMIN_TOKEN });
  assert.equal(leads.json.leads.length, 1);
  assert.equal(leads.json.leads[0].email, "cyd@charlie.example");
  assert.equal(leads.json.leads[0].referral_code, "launch");
  assert.deepEqual(problems, []);
  await context.close();
});

async function csrf(context) {
  const res = await context.request.get(server.baseUrl + "/api/admin/session");
  return (await res.json()).csrf_token;
}

test("an operator works the funnel: prospects, sequences, suppression and leads", async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  await signIn(context);
  const { page, problems } = await watchedPage(context);

  // The review queue: acme-ai first, contacted through its own site; a referral code comes back.
  await page.goto(server.baseUrl + "/admin/acquisition/review");
  await ready(page);
  const first = page.locator("table").first().locator("tbody tr").first();
  assert.match(await first.innerText(), /acme-ai/);
  assert.doesNotMatch(await page.locator("main").innerText(), /github-profile\.example/);
  await first.getByRole("button", { name: /as contacted/ }).click();
  await page.fill("#prospects-confirm-reason", "wrote through acme.ai/contact");
  await page.click("#prospects-confirm-yes");
  await waitFor(async () => /gh-acme-ai/.test(await page.locator("#status").innerText()), 5000, "the referral code");

  // The funnel page: the leads of the first tests by source; a sequence paused and resumed; a domain suppressed.
  await page.goto(server.baseUrl + "/admin/acquisition");
  await ready(page);
  const bySource = await page.locator('[aria-label="Leads by source over the period"]').innerText();
  assert.match(bySource, /audit/);
  assert.match(bySource, /referral/);
  assert.match(await page.locator('[data-kpi="prospects"]').innerText(), /2/);
  await page.getByRole("button", { name: "Pause the activation sequence" }).click();
  await page.fill("#seq-confirm-reason", "reviewing the copy");
  await page.click("#seq-confirm-yes");
  await page.getByRole("button", { name: "Resume the activation sequence" }).waitFor();
  await page.getByRole("button", { name: "Resume the activation sequence" }).click();
  await page.fill("#seq-confirm-reason", "copy reviewed");
  await page.click("#seq-confirm-yes");
  await page.getByRole("button", { name: "Pause the activation sequence" }).waitFor();
  await page.selectOption("#sup-kind", "domain");
  await page.fill("#sup-value", "competitor.example");
  await page.click("#sup-form button");
  await page.fill("#sup-confirm-reason", "never write to them");
  await page.click("#sup-confirm-yes");
  await waitFor(async () => /competitor\.example/.test(await page.locator('[aria-label="The suppression list, newest first"]').innerText()), 5000, "the suppressed domain");

  // A lead marked replied, another erased.
  const cyd = (await api("GET", "/api/admin/acquisition/leads?q=cyd", { token: ADMIN_TOKEN })).json.leads[0];
  await page.goto(server.baseUrl + `/admin/acquisition/leads?id=${cyd.id}`);
  await ready(page);
  await page.getByRole("button", { name: "Mark replied" }).click();
  await page.fill("#lead-confirm-reason", "asked for a demo");
  await page.click("#lead-confirm-yes");
  await waitFor(async () => /replied/.test(await page.locator('[data-fact="status"]').innerText()), 5000, "the replied status");
  await page.getByRole("button", { name: "Erase" }).click();
  await page.fill("#lead-confirm-reason", "asked to be forgotten");
  await page.click("#lead-confirm-yes");
  await waitFor(async () => /erased/.test(await page.locator("main h1").innerText()), 5000, "the erased lead");

  const audit = await api("GET", "/api/admin/audit?limit=100", { token: ADMIN_TOKEN });
  const actions = audit.json.entries.map((e) => e.action);
  for (const a of ["prospect.decide", "sequence.pause", "sequence.resume", "suppression.add", "lead.mark", "lead.erase"]) {
    assert.ok(actions.includes(a), `${a} in ${actions.join(", ")}`);
  }
  assert.deepEqual(problems, []);
  await context.close();
});

test("every acquisition page on a phone and a desktop: CSP, no console error, fits, passes axe-core", async () => {
  const lead = (await api("GET", "/api/admin/acquisition/leads", { token: ADMIN_TOKEN })).json.leads[0];
  const pages = [
    ["funnel", "/admin/acquisition", /Acquisition/],
    ["review", "/admin/acquisition/review", /Review queue/],
    ["leads", "/admin/acquisition/leads", /Leads/],
    ["lead", `/admin/acquisition/leads?id=${lead.id}`, /@|erased/],
    ["landing", "/", /Stop paying/],
  ];
  const findings = [];
  for (const viewport of [PHONE, DESKTOP]) {
    const context = await browser.newContext({ viewport });
    await signIn(context);
    for (const [name, urlPath, heading] of pages) {
      const { page, problems } = await watchedPage(context);
      const response = await page.goto(server.baseUrl + urlPath);
      assert.equal(response.status(), 200, urlPath);
      assert.match(response.headers()["content-security-policy"], /script-src 'self'; style-src 'self'/);
      if (urlPath.startsWith("/admin")) {
        await ready(page);
        assert.equal(await page.locator('nav.subnav a[aria-current="page"]').count(), 1, urlPath);
      } else {
        await page.locator(".plan").first().waitFor();
      }
      assert.match(await page.textContent("h1"), heading, `${urlPath} at ${viewport.width} px`);
      await checkPage(page, `acquisition-${name}-${viewport.width}`, findings);
      assert.deepEqual(problems, [], `${urlPath} at ${viewport.width} px`);
      await page.close();
    }
    await context.close();
  }
  assert.deepEqual(findings, []);
});
