// What every page of the operator panel shares: the admin session (or off to /admin/login), API calls with
// its CSRF token, the frame (header, navigation, sign-out). The panel's session is not the customers': a
// customer signed in on this browser sees nothing here, and the reverse.
import { apiFor, mountFrame, showStatus } from "../core.js";

let session = null;

const NAV = [
  ["/admin", "Revenue"],
  ["/admin/customers", "Customers"],
  ["/admin/payments", "Payments"],
  ["/admin/mail", "Mail"],
  ["/admin/acquisition", "Acquisition"],
  ["/admin/security", "Security"],
  ["/admin/system", "System"],
];

export const api = apiFor("/admin/login", () => session);

// Starts a panel page: the admin session (or off to sign in), the frame, then the page itself.
export async function start(active, render) {
  const res = await fetch("/api/admin/session", { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const answer = res.ok ? await res.json() : null;
  if (!answer || !answer.signed_in) {
    location.replace("/admin/login?next=" + encodeURIComponent(location.pathname + location.search));
    return;
  }
  session = answer;
  mountFrame({
    nav: NAV,
    active,
    home: "/admin",
    brand: " Operator",
    label: "Panel",
    email: session.email,
    signOut: async () => {
      try {
        await api("/api/admin/logout", { method: "POST" });
      } finally {
        location.assign("/admin/login");
      }
    },
  });
  try {
    await render(document.getElementById("main"), session);
  } catch (err) {
    showStatus(err.message);
  }
  document.body.dataset.readyMs = String(Math.round(performance.now()));
}
