// The landing page in a real browser: Debian's Chromium, driven by playwright-core, against the real
// gpuopt binary on a free port. Run by CTest (tests/CMakeLists.txt) with GPUOPT_SERVER_BIN and
// GPUOPT_SOURCE_DIR set; screenshots go to GPUOPT_ARTIFACTS when it is set.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const serverBin = process.env.GPUOPT_SERVER_BIN;
const sourceDir = process.env.GPUOPT_SOURCE_DIR;
const artifacts = process.env.GPUOPT_ARTIFACTS;
assert.ok(serverBin && sourceDir, "GPUOPT_SERVER_BIN and GPUOPT_SOURCE_DIR must be set");

let server;
let dataDir;
let baseUrl;
let browser;

async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "gpuopt-e2e-"));
  const portFile = path.join(dataDir, "port");
  server = spawn(serverBin, ["serve", "--port", "0", "--data-dir", dataDir, "--port-file", portFile], {
    cwd: dataDir,
    env: { PATH: "/usr/bin:/bin", WEB_DIR: path.join(sourceDir, "web"), ACCESS_LOG: "off" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitFor(() => existsSync(portFile) && readFileSync(portFile, "utf8").trim() !== "", 20000, "the server");
  baseUrl = `http://127.0.0.1:${readFileSync(portFile, "utf8").trim()}`;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  if (artifacts) mkdirSync(artifacts, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// A page that records console errors and CSP violations, which must stay empty.
async function openPage(viewport) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective}`));
  });
  return { page, problems };
}

test("plans come from the server's configuration", async () => {
  const { page, problems } = await openPage({ width: 1280, height: 900 });
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
  const { page, problems } = await openPage({ width: 1280, height: 900 });
  await page.goto(baseUrl + "/");
  await page.fill("#email", "Browser.User@Example.com");
  await page.click("#signup-button");
  await page.locator("#key-box").waitFor({ state: "visible" });
  const key = (await page.locator("#api-key").innerText()).trim();
  assert.match(key, /^gopt_[A-Za-z0-9]{23}$/);
  assert.equal(await page.locator("#signup-form").isVisible(), false);
  if (artifacts) await page.screenshot({ path: path.join(artifacts, "landing-signed-up.png"), fullPage: true });

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
  const { page, problems } = await openPage({ width: 1280, height: 900 });
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
  const { page, problems } = await openPage({ width: 375, height: 740 });
  await page.goto(baseUrl + "/");
  await page.locator(".plan").nth(2).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  if (artifacts) await page.screenshot({ path: path.join(artifacts, "landing-phone.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});
