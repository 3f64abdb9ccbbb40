// A stand-in for Flutterwave on loopback that answers the three calls the server makes (create a hosted
// checkout, verify by reference, verify by id) the way the gateway does. As the real one sometimes does, it
// knows a payment only once the test marks it paid (`checkouts.get(ref).paid = true`), and the test then
// sends its webhook (`webhookBody(ref)` with the `verif-hash` header).
import http from "node:http";

export const SECRET_KEY = "FLWSECK_TEST-e2e";
export const WEBHOOK_HASH = "e2e-webhook-hash";

function answer(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

export async function startFakeFlutterwave() {
  const checkouts = new Map();  // tx_ref -> { amount, currency, paid, id }
  let nextId = 7000;
  const transaction = (ref, c) => ({ id: c.id, tx_ref: ref, status: "successful", amount: c.amount, currency: c.currency });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://gateway");
    if (req.method === "GET" && url.pathname.startsWith("/pay/")) {
      // The hosted checkout page: a "Pay" link back to the server's callback, as the real page redirects.
      const ref = url.pathname.slice(5);
      res.writeHead(200, { "Content-Type": "text/html" });
      return res.end(`<!doctype html><html lang="en"><head><title>Checkout</title><link rel="icon" href="data:,"></head><main><h1>Fake checkout</h1><p>${ref}</p></main></html>`);
    }
    if (req.headers.authorization !== `Bearer ${SECRET_KEY}`) {
      return answer(res, 401, { status: "error", message: "Invalid authorization key" });
    }
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      if (req.method === "POST" && url.pathname === "/v3/payments") {
        const k = JSON.parse(body);
        checkouts.set(k.tx_ref, { amount: Number(k.amount), currency: k.currency, paid: false, id: ++nextId, redirect: k.redirect_url });
        return answer(res, 200, { status: "success", message: "Hosted Link",
                                  data: { link: `http://127.0.0.1:${server.address().port}/pay/${k.tx_ref}` } });
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
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    checkouts,
    transaction,
    baseUrl: `http://127.0.0.1:${server.address().port}`,
    env: { FLUTTERWAVE_SECRET_KEY: SECRET_KEY, FLUTTERWAVE_SECRET_HASH: WEBHOOK_HASH,
           FLUTTERWAVE_BASE_URL: `http://127.0.0.1:${server.address().port}` },
    webhookBody: (ref) => ({ event: "charge.completed", data: transaction(ref, checkouts.get(ref)) }),
    close: () => new Promise((r) => server.close(r)),
  };
}
