// /admin/login: an operator's email, password and, once enrolled, the authenticator's code. Every failure
// gets the same answer from the server; the page shows it as it is.
function problem(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

function next() {
  const wanted = new URLSearchParams(location.search).get("next") || "";
  // Only a page of the panel (a customer's detail too): never an address elsewhere (no open redirect).
  return /^\/admin(\/[a-z-]*)*(\?id=[0-9]{1,18})?$/.test(wanted) ? wanted : "/admin";
}

if (new URLSearchParams(location.search).get("signed_out") === "factor") {
  problem("Your second factor changed: sign in again with your password and a code.");
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  problem("");
  const form = event.target;
  const email = form.email.value.trim();
  const password = form.password.value;
  const code = form.code.value.trim();
  if (!email || !password) {
    problem("Please enter your email and password.");
    (email ? form.password : form.email).focus();
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const res = await fetch("/api/admin/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(code ? { email, password, code } : { email, password }),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      form.password.value = "";
      form.code.value = "";
      problem(json.message || `Sign-in failed (HTTP ${res.status})`);
      form.password.focus();
      return;
    }
    location.assign(next());
  } catch (err) {
    problem(err.message);
  } finally {
    button.disabled = false;
  }
});
