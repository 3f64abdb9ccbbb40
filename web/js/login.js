// /login: a sign-in link by email (the same answer for every address), or an API key.
function problem(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = json.details ? Object.values(json.details)[0] : "";
    throw new Error(detail ? `${json.message}: ${detail}` : json.message || `HTTP ${res.status}`);
  }
  return json;
}

function next() {
  const wanted = new URLSearchParams(location.search).get("next") || "";
  // Only a path of this site: never an address elsewhere (no open redirect).
  return /^\/[a-z]/.test(wanted) && !wanted.startsWith("//") ? wanted : "/dashboard";
}

if (new URLSearchParams(location.search).get("deleted") === "1") {
  const done = document.getElementById("link-sent");
  done.textContent = "Your account and its data were deleted. A mail to its address confirms it.";
  done.hidden = false;
}

document.getElementById("link-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  problem("");
  const email = event.target.email;
  if (!email.checkValidity() || email.value.trim() === "") {
    problem("Please enter the email address you signed up with.");
    email.focus();
    return;
  }
  try {
    const answer = await post("/api/login", { email: email.value.trim() });
    const sent = document.getElementById("link-sent");
    sent.textContent = answer.message;
    sent.hidden = false;
  } catch (err) {
    problem(err.message);
  }
});

document.getElementById("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  problem("");
  const key = event.target.api_key.value.trim();
  if (!key) {
    problem("Please paste your API key.");
    return;
  }
  try {
    await post("/api/login/key", { api_key: key });
    location.assign(next());
  } catch (err) {
    problem(err.message);
  }
});

// Already signed in: straight on.
fetch("/api/session", { headers: { Accept: "application/json" }, credentials: "same-origin" })
  .then((res) => (res.ok ? res.json() : null))
  .then((answer) => {
    if (answer && answer.signed_in) location.replace(next());
  });
