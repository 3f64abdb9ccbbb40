// /admin/mail: the outbox, filtered by status and kind (and by customer from a customer's page), paged back,
// each message's attempts and the transport's last error; a failed or pending message sent again at once,
// a pending one cancelled (confirmed first).
import { el, card, time, showStatus } from "../core.js";
import { api, start } from "./panel.js";
import { confirmBox, customerLink, errorLine, filterForm, long, pagedList, queryOf, stateWord } from "./parts.js";

const STATUSES = ["pending", "sent", "failed"];

function outboxCard(customer) {
  const error = errorLine();
  const confirm = confirmBox("mail-confirm");
  const form = filterForm(
    { id: "m-filters" },
    el("label", { for: "m-status", text: "Status" }),
    el("select", { id: "m-status", name: "status" }, el("option", { value: "", text: "All" }), STATUSES.map((s) => el("option", { value: s, text: s }))),
    el("label", { for: "m-kind", text: "Kind" }),
    el("input", { id: "m-kind", name: "kind", type: "search", maxlength: 64, autocomplete: "off", placeholder: "e.g. welcome" }),
    customer ? el("input", { type: "hidden", name: "customer", value: customer }) : null,
    el("button", { type: "submit", text: "Show" }),
  );
  const actions = (m) => {
    const out = [];
    if (m.status === "failed" || m.status === "pending") {
      const retry = el("button", { type: "button", class: "small-button", text: "Retry", "aria-label": `Retry mail ${m.id} to ${m.to} now` });
      retry.addEventListener("click", async () => {
        error.clear();
        retry.disabled = true;
        try {
          await api(`/api/admin/mail/${m.id}/retry`, { method: "POST", body: {} });
          showStatus(`Mail ${m.id} to ${m.to} goes out again now.`, "ok");
          await outbox.load(true);
        } catch (err) {
          retry.disabled = false;
          error.show(err);
        }
      });
      out.push(retry);
    }
    if (m.status === "pending") {
      const cancel = el("button", { type: "button", class: "small-button secondary", text: "Cancel", "aria-label": `Cancel mail ${m.id} to ${m.to}` });
      cancel.addEventListener("click", () => {
        error.clear();
        confirm.open({
          heading: `Cancel "${m.subject}" to ${m.to}?`,
          detail: "It is not sent, and is kept as failed, cancelled by you. A retry sends it after all.",
          confirm: "Yes, cancel the mail",
          returnTo: cancel,
          run: async () => {
            await api(`/api/admin/mail/${m.id}/cancel`, { method: "POST", body: {} });
            showStatus(`Mail ${m.id} to ${m.to} is cancelled.`, "ok");
            await outbox.load(true);
          },
        });
      });
      out.push(cancel);
    }
    return out.length ? el("div", { class: "key-actions" }, out) : "–";
  };
  const outbox = pagedList({
    caption: "The outbox, newest first",
    empty: "No mail matches.",
    more: "Older mail",
    columns: [
      ["Created", (m) => time(m.created_at)],
      ["To", (m) => (m.account_id ? customerLink(m.account_id, m.to) : m.to)],
      ["Subject", (m) => long(m.subject)],
      ["Kind", (m) => m.kind],
      ["Status", (m) => [
        stateWord(m.status, m.status === "sent" ? true : m.status === "failed" ? false : null),
        el("div", { class: "small muted nowrap", text: `${m.attempts} attempt${m.attempts === 1 ? "" : "s"}` }),
        m.sent_at ? el("div", { class: "small muted" }, "sent ", time(m.sent_at)) : null,
        m.status === "pending" && m.next_attempt ? el("div", { class: "small muted" }, "next ", time(m.next_attempt)) : null,
      ]],
      ["Last error", (m) => long(m.last_error)],
      ["Act", actions],
    ],
    fetchPage: async (before) => {
      const answer = await api("/api/admin/mail?" + queryOf(form, { limit: 50, before }));
      return { rows: answer.mails, next_before: answer.next_before };
    },
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    outbox.load(true).catch((err) => showStatus(err.message));
  });
  outbox.button.addEventListener("click", () => outbox.load(false).catch((err) => showStatus(err.message)));
  const box = card(
    "Outbox",
    customer ? el("p", { class: "note" }, `Customer #${customer} only. `, el("a", { href: "/admin/mail", text: "All mail" })) : null,
    form,
    outbox.node,
    error.node,
    confirm.node,
  );
  return { box, load: () => outbox.load(true) };
}

start("/admin/mail", async (main) => {
  const customer = new URLSearchParams(location.search).get("customer");
  const outbox = outboxCard(customer && /^[0-9]{1,18}$/.test(customer) ? customer : null);
  main.replaceChildren(
    el("h1", { text: "Mail" }),
    el("p", { class: "muted", text: "Sign-in links, welcome, receipts, renewals and alerts go out from here; a failed one is tried again with a growing wait." }),
    outbox.box,
  );
  await outbox.load();
});
