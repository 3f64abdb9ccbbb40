// Alerts (/alerts): idle-alert settings (a Slack-compatible webhook, email, after how many idle minutes),
// the report mails, and the alerts sent.
import { api, card, el, poll, showStatus, table, time } from "../core.js";

export async function render(main) {
  const form = el("form", { class: "stack", novalidate: true });
  const webhook = el("input", { id: "alert-webhook", type: "url", placeholder: "https://hooks.slack.com/services/…", autocomplete: "off" });
  const email = el("input", { id: "alert-email", type: "checkbox" });
  const minutes = el("input", { id: "alert-minutes", type: "number", min: 5, max: 1440, step: 1 });
  const save = el("button", { type: "submit", text: "Save alert settings" });
  // Nothing to type into until the saved settings are shown: a value typed before they arrive would be lost.
  for (const x of [webhook, email, minutes, save]) x.disabled = true;
  const planNote = el("p", { class: "note", hidden: true });
  form.append(
    planNote,
    el("label", { for: "alert-webhook", text: "Slack (or compatible) webhook URL" }),
    webhook,
    el("p", { class: "small muted", text: "Only its host is shown back once saved. Leave empty to turn webhook alerts off." }),
    el("div", { class: "check" }, email, el("label", { for: "alert-email", text: "Also email me when a GPU goes idle" })),
    el("label", { for: "alert-minutes", text: "Alert after this many idle minutes" }),
    minutes,
    save,
  );
  const weekly = el("input", { id: "report-weekly", type: "checkbox" });
  const daily = el("input", { id: "report-daily", type: "checkbox" });
  const reports = el("form", { class: "stack" },
    el("div", { class: "check" }, weekly, el("label", { for: "report-weekly", text: "Weekly report by email" })),
    el("div", { class: "check" }, daily, el("label", { for: "report-daily", text: "Daily report by email (paid plans)" })),
    el("button", { type: "submit", text: "Save report settings" }));
  const sent = el("div");
  main.append(el("h1", { text: "Alerts" }), el("div", { class: "grid-2" }, card("Idle alerts", form), card("Reports", reports)), card("Alerts sent", sent));

  let loaded = false;
  async function refresh() {
    const [alerts, rep] = await Promise.all([api("/api/me/alerts"), api("/api/me/reports")]);
    if (!loaded) {
      webhook.value = "";
      webhook.placeholder = alerts.webhook_url || "https://hooks.slack.com/services/…";
      email.checked = alerts.email;
      minutes.value = alerts.idle_minutes;
      weekly.checked = rep.weekly;
      daily.checked = rep.daily;
      loaded = true;
    }
    if (!alerts.available_on_plan) {
      planNote.hidden = false;
      planNote.replaceChildren("Idle alerts come with ", el("a", { href: "/billing", text: "Professional" }), ".");
    }
    for (const x of [webhook, email, minutes, save]) x.disabled = !alerts.available_on_plan;
    sent.replaceChildren(
      table("Alerts sent", [
        ["GPU", (a) => el("a", { href: `/gpu?key=${encodeURIComponent(a.gpu)}`, text: a.gpu })],
        ["Idle since", (a) => time(a.idle_since)],
        ["Alerted", (a) => time(a.opened_at)],
        ["Ended", (a) => (a.closed_at ? time(a.closed_at) : "still idle")],
        ["Delivery", (a) => a.delivery],
        ["Message", (a) => a.message],
      ], alerts.alerts, { empty: "No alert sent yet." }),
    );
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { email: email.checked, idle_minutes: Number(minutes.value) };
    if (webhook.value.trim() !== "") body.webhook_url = webhook.value.trim();
    try {
      await api("/api/me/alerts", { method: "PUT", body });
      loaded = false;
      await refresh();
      showStatus("Alert settings saved.", "ok");
    } catch (err) {
      showStatus(err.message);
    }
  });
  reports.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("/api/me/reports", { method: "PUT", body: { weekly: weekly.checked, daily: daily.checked } });
      showStatus("Report settings saved.", "ok");
    } catch (err) {
      showStatus(err.message);
    }
  });
  await poll(refresh, 60);
}
