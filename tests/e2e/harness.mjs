// What every browser test shares: the real gpuopt binary on a free port in a scratch data dir, Debian's
// Chromium driven by playwright-core, and pages that record console errors and CSP violations.
// GPUOPT_SERVER_BIN and GPUOPT_SOURCE_DIR come from CTest; screenshots go to GPUOPT_ARTIFACTS when set.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

export const serverBin = process.env.GPUOPT_SERVER_BIN;
export const sourceDir = process.env.GPUOPT_SOURCE_DIR;
export const artifacts = process.env.GPUOPT_ARTIFACTS;
assert.ok(serverBin && sourceDir, "GPUOPT_SERVER_BIN and GPUOPT_SOURCE_DIR must be set");

export async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Starts `gpuopt serve` with `env` added to a minimal environment; resolves to { baseUrl, dataDir, stop }.
export async function startServer(env = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "gpuopt-e2e-"));
  const portFile = path.join(dataDir, "port");
  const server = spawn(serverBin, ["serve", "--port", "0", "--data-dir", dataDir, "--port-file", portFile], {
    cwd: dataDir,
    env: { PATH: "/usr/bin:/bin", WEB_DIR: path.join(sourceDir, "web"), ACCESS_LOG: "off", ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitFor(() => existsSync(portFile) && readFileSync(portFile, "utf8").trim() !== "", 20000, "the server");
  const baseUrl = `http://127.0.0.1:${readFileSync(portFile, "utf8").trim()}`;
  const stop = async () => {
    if (server.exitCode === null) {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { baseUrl, dataDir, stop };
}

export async function launchBrowser() {
  if (artifacts) mkdirSync(artifacts, { recursive: true });
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
}

// A page that records console errors and CSP violations, which must stay empty.
export async function openPage(browser, viewport) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective}`));
  });
  return { page, problems };
}

// A page of `context` that records console errors, page errors, CSP violations and every 4xx or 5xx answer.
export async function watchedPage(context) {
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`); });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective}`));
  });
  return { page, problems };
}

let axeSource = null;
// axe-core's serious and critical findings on the page, one line each.
export async function axeFindings(page) {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations);
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
}

export async function screenshot(page, name) {
  if (artifacts) await page.screenshot({ path: path.join(artifacts, name), fullPage: true });
}

// The page is no wider than its viewport (nothing to scroll sideways on a phone).
export async function overflowPx(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

export const PHONE = { width: 375, height: 740 };
export const DESKTOP = { width: 1280, height: 900 };

// What a page's structure gets wrong: tables without a caption (uPlot's live legend aside: a chart's figures
// are their own table), objects written as text, headings that skip a level.
export async function structureFindings(page) {
  return page.evaluate(() => {
    const out = [];
    for (const t of document.querySelectorAll("table")) {
      if (t.closest(".u-legend")) continue;
      if (!t.caption || !t.caption.textContent.trim()) out.push(`a table without a caption: ${t.textContent.slice(0, 60)}`);
    }
    if (document.body.innerHTML.includes("[object ")) out.push("an object written as text: [object ...]");
    let last = 0;
    for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
      if (h.closest("[hidden]")) continue;
      const level = Number(h.tagName[1]);
      if (level > last + 1) out.push(`${h.tagName} "${h.textContent}" after h${last}`);
      last = level;
    }
    return out;
  });
}
