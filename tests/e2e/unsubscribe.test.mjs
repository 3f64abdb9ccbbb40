// The page a report mail's unsubscribe link opens (/api/reports/unsubscribe), in Chromium on a phone and a
// desktop: the link is taken from a real weekly report the server wrote to its outbox folder; opening it
// changes nothing, its one button turns report mails off, and the answer says so.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { waitFor, startServer, launchBrowser, openPage, screenshot, overflowPx, PHONE, DESKTOP }
  from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ REPORT_INTERVAL_SECONDS: "1", MAIL_INTERVAL_SECONDS: "1", RAW_RETENTION_DAYS: "14",
                               BASE_URL: "http://app.example.test" });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function api(method, p, key, body) {
  const res = await fetch(server.baseUrl + p, {
    method,
    headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

// An hour of one idle GPU, ending three hours before this week's Monday (UTC): last week's report has it.
async function reportLastWeek(key) {
  const today = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));
  const monday = new Date(today.getTime() - ((today.getUTCDay() + 6) % 7) * 86400000);
  const start = monday.getTime() - 4 * 3600000;
  for (let m = 1; m <= 60; m++) {
    const end = new Date(start + m * 60000);
    const body = {
      report_id: `e2e:${m}`,
      agent: { id: "box", hostname: "box", version: "e2e" },
      window: { start: new Date(end.getTime() - 60000).toISOString().replace(/\.\d+Z$/, "Z"),
                end: end.toISOString().replace(/\.\d+Z$/, "Z"), samples: 6 },
      gpu_data: [{ gpu_index: 0, uuid: "GPU-e2e", gpu_name: "NVIDIA L4", gpu_util: 1, idle_fraction: 1,
                   mem_used: 10, mem_total: 23034, cost_per_hour: 0.8 }],
    };
    const r = await api("POST", "/api/track-usage", key, body);
    assert.equal(r.status, 200, JSON.stringify(r.json));
  }
}

function unsubscribeLink() {
  const dir = path.join(server.dataDir, "outbox");
  let files = [];
  try { files = readdirSync(dir).filter((f) => f.endsWith(".eml")); } catch { return null; }
  for (const f of files) {
    const mail = readFileSync(path.join(dir, f), "utf8");
    if (!/^Subject: .*weekly report/m.test(mail)) continue;
    const m = mail.match(/^List-Unsubscribe: <http:\/\/app\.example\.test(\/api\/reports\/unsubscribe\?token=\w+)>/m);
    if (m) return m[1];
  }
  return null;
}

test("a report's unsubscribe link asks first, then turns report mails off", async () => {
  const signup = await api("POST", "/api/signup", null, { email: "reports@example.com" });
  assert.equal(signup.status, 200);
  const key = signup.json.api_key;
  await reportLastWeek(key);
  let link = null;
  await waitFor(() => (link = unsubscribeLink()) !== null, 30000, "the weekly report in the outbox");

  for (const [viewport, suffix] of [[PHONE, "phone"], [DESKTOP, "desktop"]]) {
    const { page, problems } = await openPage(browser, viewport);
    const response = await page.goto(server.baseUrl + link);
    assert.equal(response.status(), 200);
    assert.equal((await page.locator("h1").innerText()).trim(), "Stop report mails?");
    const button = page.getByRole("button", { name: "Turn report mails off" });
    assert.ok(await button.isVisible(), "one button");
    assert.ok((await overflowPx(page)) <= 0, `the page on a ${suffix} is wider than the screen`);
    await screenshot(page, `unsubscribe-ask-${suffix}.png`);
    // Opening the link changed nothing.
    assert.equal((await api("GET", "/api/me/reports", key)).json.weekly, true);
    if (suffix === "desktop") {
      await button.click();
      await page.waitForLoadState();
      assert.equal((await page.locator("h1").innerText()).trim(), "Report mails are off");
      assert.ok(await page.locator('main a[href="/"]').isVisible(), "a way back to the site");
      await screenshot(page, `unsubscribe-done-${suffix}.png`);
    }
    assert.deepEqual(problems, []);
    await page.close();
  }
  const settings = (await api("GET", "/api/me/reports", key)).json;
  assert.equal(settings.weekly, false);
  assert.equal(settings.daily, false);
});
