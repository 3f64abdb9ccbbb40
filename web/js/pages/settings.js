// Settings (/settings): the account, its API keys (made, rotated, revoked, last use), the agent's install
// commands with this server's address, signing out everywhere, and deleting the account.
import { api, card, el, showStatus, table, time, ago } from "../core.js";

export async function render(main, session) {
  const origin = location.origin;
  const key = "YOUR_API_KEY";
  const tryIt = `GPU_OPTIMIZER_API_KEY=${key} gpuopt-agent --once --server ${origin}   # one sample, printed, nothing sent`;
  const service = [
    "sudo install -d -m 700 /etc/gpuopt-agent",
    `printf 'GPU_OPTIMIZER_API_KEY=${key}\\nGPU_OPTIMIZER_SERVER_URL=${origin}\\n' | sudo tee /etc/gpuopt-agent/env`,
    "sudo chmod 600 /etc/gpuopt-agent/env",
    "sudo install -m 644 deploy/gpuopt-agent.service /etc/systemd/system/ && sudo systemctl enable --now gpuopt-agent",
  ].join("\n");
  const everywhere = el("button", { type: "button", text: "Sign out everywhere" });
  everywhere.addEventListener("click", async () => {
    try {
      await api("/api/logout-all", { method: "POST" });
      location.assign("/login");
    } catch (err) {
      showStatus(err.message);
    }
  });
  // API keys: made, rotated and revoked here; a new key is shown once, in a box the customer copies from.
  const keysBox = el("div");
  const shownOnce = el("div", { class: "key-box", hidden: true, role: "status" });
  const keyName = el("input", { id: "key-name", type: "text", maxlength: 64, placeholder: "e.g. training cluster", autocomplete: "off" });
  const makeKey = el("form", { class: "row-form" }, el("label", { for: "key-name", text: "New key's name" }), keyName, el("button", { type: "submit", text: "Make a key" }));
  const showKey = (answer, what) => {
    shownOnce.hidden = false;
    shownOnce.replaceChildren(
      el("h3", { text: what }),
      el("p", { text: "This is the only time it is shown. Store it now, for example in your agents' environment." }),
      el("code", { id: "new-key", text: answer.api_key }),
    );
  };
  async function refreshKeys() {
    const answer = await api("/api/me/keys");
    keysBox.replaceChildren(
      table("API keys", [
        ["Name", (k) => k.name],
        ["Key", (k) => el("code", { text: `${k.key_prefix}…` })],
        ["Made", (k) => time(k.created_at)],
        ["Last used", (k) => (k.last_used_at ? el("span", { title: k.last_used_at, text: ago(k.last_used_at) }) : "never")],
        ["State", (k) => (k.active ? "active" : el("span", {}, "revoked ", time(k.revoked_at)))],
        ["Change", (k) => (k.active ? keyButtons(k) : "")],
      ], answer.keys, { empty: "No keys: make one for your agents." }),
    );
  }
  function keyButtons(k) {
    const rotate = el("button", { type: "button", class: "small-button", "data-key": k.id, text: "Rotate" });
    const revoke = el("button", { type: "button", class: "small-button secondary", text: "Revoke" });
    rotate.addEventListener("click", async () => {
      try {
        const answer = await api(`/api/me/keys/${k.id}/rotate`, { method: "POST" });
        showKey(answer, `New key for "${answer.name}": the old one no longer works`);
        await refreshKeys();
      } catch (err) {
        showStatus(err.message);
      }
    });
    // Revoking stops every agent using the key: the button asks once more.
    revoke.addEventListener("click", async () => {
      if (revoke.dataset.armed !== "1") {
        revoke.dataset.armed = "1";
        revoke.textContent = "Agents using it stop: revoke?";
        return;
      }
      try {
        await api(`/api/me/keys/${k.id}`, { method: "DELETE" });
        showStatus(`Key "${k.name}" revoked.`, "ok");
        await refreshKeys();
      } catch (err) {
        showStatus(err.message);
      }
    });
    return el("div", { class: "key-actions" }, rotate, revoke);
  }
  makeKey.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await api("/api/me/keys", { method: "POST", body: { name: keyName.value.trim() } });
      keyName.value = "";
      showKey(answer, `New key "${answer.name}"`);
      await refreshKeys();
    } catch (err) {
      showStatus(err.message);
    }
  });
  await refreshKeys();

  // Deleting the account: typing its address arms the button (nothing is deleted by a stray click).
  const confirmBox = el("input", { id: "delete-confirm", type: "email", autocomplete: "off", maxlength: 254, placeholder: session.email });
  const deleteButton = el("button", { type: "submit", class: "danger", text: "Delete the account and its data", disabled: true });
  const deleteForm = el("form", { class: "stack", id: "delete-form" },
    el("label", { for: "delete-confirm", text: `To confirm, type the account's address (${session.email})` }), confirmBox, deleteButton);
  const typedRight = () => confirmBox.value.trim().toLowerCase() === String(session.email).toLowerCase();
  confirmBox.addEventListener("input", () => { deleteButton.disabled = !typedRight(); });
  deleteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!typedRight()) return;
    deleteButton.disabled = true;
    try {
      await api("/api/me", { method: "DELETE", body: { confirm: confirmBox.value.trim() } });
      location.assign("/login?deleted=1");
    } catch (err) {
      deleteButton.disabled = false;
      showStatus(err.message);
    }
  });

  main.append(
    el("h1", { text: "Settings" }),
    card("Account", el("dl", { class: "facts" },
      el("dt", { text: "Email" }), el("dd", { text: session.email }),
      el("dt", { text: "Plan" }), el("dd", { text: session.plan?.name || session.tier }))),
    card("API keys", keysBox, shownOnce, makeKey),
    card(
      "Install the agent",
      el("p", { text: "On each GPU host (Linux with the NVIDIA driver; root is not needed to run it). Put one of your API keys where it says YOUR_API_KEY (a key per host or cluster can be rotated alone):" }),
      el("pre", { tabindex: 0 }, el("code", { text: tryIt })),
      el("p", { text: "Then run it as a service, which reports every minute and keeps reports on disk until this server has them:" }),
      el("pre", { tabindex: 0 }, el("code", { text: service })),
    ),
    card("Sessions", el("p", { text: "Signed in on a device you no longer have? End every session of this account; API keys keep working." }), everywhere),
    card("Delete the account",
      el("p", { text: "This deletes the account and everything it holds, at once and for good: the GPUs' history, recommendations, alerts, webhooks, API keys and sessions. Agents using its keys are refused from then on. A paid plan ends with it, without a refund of the days left." }),
      el("p", { text: "Kept: the record of payments (amounts, dates, references; not your address), which the books must keep. A mail to your address confirms the deletion." }),
      deleteForm),
  );
}
