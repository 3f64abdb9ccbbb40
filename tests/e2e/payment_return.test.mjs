// The page Flutterwave's hosted checkout sends the customer back to (/payment/flutterwave/callback), in
// Chromium on a phone and a desktop, through a whole payment: cancelled, confirming, confirmed, and a
// reference that is not ours. Flutterwave itself is a stand-in on loopback that answers the three calls
// the server makes (create a checkout, verify by reference, verify by id) the way the gateway does; as
// the real one sometimes does, it knows a payment only a while after the customer's browser came back,
// and then sends its webhook.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { waitFor, startServer, launchBrowser, openPage, screenshot, overflowPx, PHONE, DESKTOP }
  from "./harness.mjs";

const SECRET_KEY = "FLWSECK_TEST-e2e";
const WEBHOOK_HASH = "e2e-webhook-hash";
const checkouts = new Map();  // tx_ref -> { amount, currency, paid, id }; paid: the gateway knows the payment
let nextId = 7000;
let gateway;
let server;
let browser;

function answer(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

function transaction(ref, c) {
  return { id: c.id, tx_ref: ref, status: "successful", amount: c.amount, currency: c.currency };
}

function fakeFlutterwave(req, res) {
  const url = new URL(req.url, "http://gateway");
  if (req.headers.authorization !== `Bearer ${SECRET_KEY}`) return answer(res, 401, { status: "error", message: "Invalid authorization key" });
  let body = "";
  req.on("data", (chunk) => { body += chunk; });
  req.on("end", () => {
    if (req.method === "POST" && url.pathname === "/v3/payments") {
      const k = JSON.parse(body);
      checkouts.set(k.tx_ref, { amount: Number(k.amount), currency: k.currency, paid: false, id: ++nextId });
      return answer(res, 200, { status: "success", message: "Hosted Link",
                                data: { link: `http://127.0.0.1:${gateway.address().port}/pay/${k.tx_ref}` } });
    }
    if (req.method === "GET" && url.pathname === "/v3/transactions/verify_by_reference") {
      const ref = url.searchParams.get("tx_ref");
      const c = checkouts.get(ref);
      if (!c || !c.paid) return answer(res, 404, { status: "error", message: "No transaction was found for this id", data: null });
      return answer(res, 200, { status: "success", message: "Transaction fetched successfully", data: transaction(ref, c) });
    }
    const byId = url.pathname.match(/^\/v3\/transactions\/(\d+)\/verify$/);
    if (req.method === "GET" && byId) {
      for (const [ref, c] of checkouts) {
        if (c.paid && String(c.id) === byId[1]) return answer(res, 200, { status: "success", data: transaction(ref, c) });
      }
      return answer(res, 404, { status: "error", message: "No transaction was found for this id", data: null });
    }
    answer(res, 404, { status: "error", message: "Not found" });
  });
}

before(async () => {
  gateway = http.createServer(fakeFlutterwave);
  await new Promise((r) => gateway.listen(0, "127.0.0.1", r));
  server = await startServer({
    FLUTTERWAVE_SECRET_KEY: SECRET_KEY,
    FLUTTERWAVE_SECRET_HASH: WEBHOOK_HASH,
    FLUTTERWAVE_BASE_URL: `http://127.0.0.1:${gateway.address().port}`,
  });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (gateway) await new Promise((r) => gateway.close(r));
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
    assert.ok(await page.locator('main a[href="/"]').isVisible(), "a way back to the site");
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
