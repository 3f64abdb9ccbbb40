// Settings (/settings): the account, the agent's install commands with this server's address, and signing out
// everywhere.
import { api, card, el, showStatus } from "../core.js";

export async function render(main, session) {
  const origin = location.origin;
  const key = `${session.key_prefix}…`;
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
  main.append(
    el("h1", { text: "Settings" }),
    card("Account", el("dl", { class: "facts" },
      el("dt", { text: "Email" }), el("dd", { text: session.email }),
      el("dt", { text: "Plan" }), el("dd", { text: session.plan?.name || session.tier }),
      el("dt", { text: "API key" }), el("dd", {}, el("code", { text: `${session.key_prefix}…` }), " (shown once, at sign-up; we keep only a fingerprint)"))),
    card(
      "Install the agent",
      el("p", { text: "On each GPU host (Linux with the NVIDIA driver; root is not needed to run it). Put your whole key where it shows the start of it:" }),
      el("pre", { tabindex: 0 }, el("code", { text: tryIt })),
      el("p", { text: "Then run it as a service, which reports every minute and keeps reports on disk until this server has them:" }),
      el("pre", { tabindex: 0 }, el("code", { text: service })),
    ),
    card("Sessions", el("p", { text: "Signed in on a device you no longer have? End every session of this account; API keys keep working." }), everywhere),
  );
}
