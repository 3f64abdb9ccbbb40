// The operator panel in Chromium against the real server: an operator made with `gpuopt admin create-user`
// (the password on stdin) signs in on /admin/login, sees the audit log of the sign-in, turns on a TOTP
// second factor through the page (the code computed here as an authenticator app would), is signed out by
// it and signs in again with a code, checks the audit chain, and signs out; a wrong password shows the
// server's one answer; the panel's session is not a customer's. Each page on a phone and a desktop: no
// console error, no CSP violation, nothing wider than the screen, no serious or critical axe-core finding.
// Screenshots go to GPUOPT_ARTIFACTS (build/dev/e2e-artifacts).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { waitFor, startServer, launchBrowser, screenshot, overflowPx, serverBin, watchedPage, axeFindings } from "./harness.mjs";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const PASSWORD = "correct horse battery staple";

let server;
let browser;

before(async () => {
  server = await startServer({ ADMIN_TOKEN: "e2e-admin-token-0123456789" });
  browser = await launchBrowser();
  for (const email of ["ops@example.com", "second@example.com"]) {
    const made = spawnSync(serverBin, ["admin", "create-user", "--email", email, "--password-stdin", "--data-dir", server.dataDir], {
      cwd: server.dataDir,
      env: { PATH: "/usr/bin:/bin" },
      input: `${PASSWORD}\n`,
      encoding: "utf8",
    });
    assert.equal(made.status, 0, made.stdout + made.stderr);
  }
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

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
  await page.waitForFunction(() => document.body.dataset.readyMs);
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
    const expected = problems.filter((p) => p.includes("401") && (p.includes("/api/admin/login") || p.includes("Failed to load resource")));
    assert.ok(expected.length >= 1, problems.join("\n"));
    problems.splice(0, problems.length, ...problems.filter((p) => !expected.includes(p)));

    await signIn(page, "second@example.com");
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
