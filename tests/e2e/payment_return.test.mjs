// The page Flutterwave's hosted checkout sends the customer back to (/payment/flutterwave/callback), in
// Chromium on a phone and a desktop, through a whole payment: cancelled, confirming, confirmed, and a
// reference that is not ours. Flutterwave itself is a stand-in on loopback that answers the three calls
// the server makes (create a checkout, verify by reference, verify by id) the way the gateway does; as
// the real one sometimes does, it knows a payment only a while after the customer's browser came back,
// and then sends its webhook.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { waitFor, startServer, launchBrowser, openPage, screenshot, overflowPx, PHONE, DESKTOP }
  from "./harness.mjs";

import { startFakeFlutterwave, WEBHOOK_HASH } from "./fake_flutterwave.mjs";

let fake;
let checkouts;
let transaction;
let server;
let browser;

before(async () => {
  fake = await startFakeFlutterwave();
  checkouts = fake.checkouts;
  transaction = fake.transaction;
  server = await startServer(fake.env);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (fake) await fake.close();
});

async function api(method, path, key, body, headers = {}) {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

// Opens the return page on a phone and a desktop: the headline, the HTTP status, nothing wider than
// the screen, no console error or CSP violation, a screenshot of each.
async function returnPage(query, name) {
  let seen;
  for (const [viewport, suffix] of [[PHONE, "phone"], [DESKTOP, "desktop"]]) {
    const { page, problems } = await openPage(browser, viewport);
    const response = await page.goto(`${server.baseUrl}/payment/flutterwave/callback?${query}`);
    const headline = (await page.locator("h1").innerText()).trim();
    const text = await page.locator("main").innerText();
    assert.ok(await page.locator('main a[href="/billing"]').isVisible(), "a way back to the billing page");
    assert.ok((await overflowPx(page)) <= 0, `${name} on a ${suffix} is wider than the screen`);
    await screenshot(page, `payment-return-${name}-${suffix}.png`);
    // A 404 page is an expected answer, which the browser logs as a failed load; nothing else.
    assert.deepEqual(problems.filter((p) => !/status of 404/.test(p)), []);
    await page.close();
    if (seen) assert.equal(headline, seen.headline);
    seen = { status: response.status(), headline, text, csp: response.headers()["content-security-policy"] };
  }
  return seen;
}

test("a payment's return page says what happened, on a phone and a desktop", async () => {
  const signup = await api("POST", "/api/signup", null, { email: "returns@example.com" });
  assert.equal(signup.status, 200);
  const key = signup.json.api_key;
  const checkout = await api("POST", "/api/upgrade", key, { tier: "professional", payment_method: "flutterwave" });
  assert.equal(checkout.status, 200, JSON.stringify(checkout.json));
  const ref = checkout.json.payment_id;
  assert.ok(checkouts.has(ref), "the checkout reached the gateway with our reference");

  // The customer gave up on the hosted page.
  let page = await returnPage(`status=cancelled&tx_ref=${ref}`, "cancelled");
  assert.equal(page.status, 200);
  assert.equal(page.headline, "Your payment was not completed.");
  assert.match(page.text, /Nothing was charged/);
  assert.match(page.csp ?? "", /default-src 'self'; script-src 'self'/);

  // Paid on the hosted page, and back before the gateway can tell us about it: we are confirming it.
  const id = checkouts.get(ref).id;
  page = await returnPage(`status=successful&tx_ref=${ref}&transaction_id=${id}`, "confirming");
  assert.equal(page.status, 200);
  assert.equal(page.headline, "Thank you. We are confirming your payment with Flutterwave.");
  assert.equal((await api("GET", "/api/me", key)).json.tier, "free");

  // The gateway knows the payment now and says so in its webhook; the server asks it and grants the plan.
  checkouts.get(ref).paid = true;
  const hook = await api("POST", "/payment/flutterwave/webhook", null,
                         { event: "charge.completed", data: { ...transaction(ref, checkouts.get(ref)) } },
                         { "verif-hash": WEBHOOK_HASH });
  assert.equal(hook.status, 200, JSON.stringify(hook.json));
  await waitFor(async () => (await api("GET", "/api/me", key)).json.tier === "professional", 20000,
                "the plan after the gateway confirmed the payment");

  // Back again once it is settled: confirmed, and no new look at the gateway is needed.
  page = await returnPage(`status=successful&tx_ref=${ref}&transaction_id=${id}`, "confirmed");
  assert.equal(page.status, 200);
  assert.equal(page.headline, "Your payment is confirmed.");

  // A reference that is not ours.
  page = await returnPage("status=successful&tx_ref=gpo_000000000000000000000000", "unknown");
  assert.equal(page.status, 404);
  assert.equal(page.headline, "We could not find this payment.");
});
