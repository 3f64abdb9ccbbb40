// Recommendations (/recommendations): each with its evidence, monthly savings, confidence and why, who holds
// the GPU, the alternatives; and what was already realized, with the savings measured after the change.
import { api, card, el, money, poll, setCurrency, showStatus, time, num } from "../core.js";

function evidence(ev) {
  return el(
    "dl",
    { class: "evidence" },
    Object.entries(ev || {}).flatMap(([name, v]) => [
      el("dt", { text: name.replaceAll("_", " ") }),
      el("dd", { text: `${num(v.value, 2)} ${v.unit}` }),
    ]),
  );
}

// Marks a recommendation done or dismissed (with an optional note), or opens a marked one again.
async function mark(type, target, state, note, refresh) {
  try {
    await api("/api/recommendations/mark", { method: "PUT", body: note ? { type, target, state, note } : { type, target, state } });
    showStatus(state === "open" ? "Opened again." : `Marked ${state}.`, "ok");
    await refresh();
  } catch (err) {
    showStatus(err.message);
  }
}

function actions(r, refresh) {
  const id = `note-${r.type}-${r.target}`.replace(/[^A-Za-z0-9_-]/g, "-");
  const note = el("input", { id, type: "text", maxlength: 500, placeholder: "optional", autocomplete: "off" });
  const done = el("button", { type: "button", class: "small-button", text: "Mark done" });
  const dismiss = el("button", { type: "button", class: "small-button secondary", text: "Dismiss" });
  done.addEventListener("click", () => mark(r.type, r.target, "done", note.value.trim(), refresh));
  dismiss.addEventListener("click", () => mark(r.type, r.target, "dismissed", note.value.trim(), refresh));
  return el("div", { class: "rec-actions" }, el("label", { for: id, text: "Note" }), note, done, dismiss);
}

function marked(m, refresh) {
  const reopen = el("button", { type: "button", class: "small-button secondary", text: "Open again" });
  reopen.addEventListener("click", () => mark(m.type, m.target, "open", "", refresh));
  return el(
    "article",
    { class: "rec marked" },
    el("header", {}, el("span", { class: `badge mark-${m.state}`, text: m.state === "done" ? "Done" : "Dismissed" }), " ", time(m.marked_at)),
    el("p", { text: m.summary }),
    el("p", { class: "small" },
      `${money(m.monthly_savings_when_marked)} a month when marked`,
      m.still_recommended ? ` · still recommended: ${money(m.monthly_savings)} a month` : " · no longer recommended",
      m.realized_monthly_savings != null ? ` · realized: ${money(m.realized_monthly_savings)} a month (${m.change})` : ""),
    m.note ? el("p", { class: "small muted", text: `Note: ${m.note}` }) : null,
    reopen,
  );
}

function recommendation(r, refresh) {
  const gpuLinks = (r.gpus || [r.target]).map((g) => el("a", { href: `/gpu?key=${encodeURIComponent(g)}`, text: g }));
  return el(
    "article",
    { class: "rec" },
    el(
      "header",
      {},
      el("span", { class: "rec-money", text: `${money(r.monthly_savings)} a month` }),
      el("span", { class: `badge conf-${r.confidence}`, text: `${r.confidence} confidence` }),
      el("span", { class: "muted small", text: r.type.replaceAll("_", " ") }),
    ),
    el("p", { text: r.summary }),
    el("details", {}, el("summary", { text: "Evidence and why" }),
      evidence(r.evidence),
      el("ul", { class: "reasons" }, (r.confidence_reasons || []).map((x) => el("li", { text: x }))),
      r.held_by ? el("p", { class: "small" }, "Held by: ", (r.held_by.processes || []).map((p) => `${p.name} (pid ${p.pid}${p.user ? `, ${p.user}` : ""})`).join(", "), " · seen ", time(r.held_by.seen)) : null,
      r.alternatives && r.alternatives.length
        ? el("div", {}, el("h3", { text: "Or instead" }), r.alternatives.map((a) => el("p", { class: "small", text: `${money(a.monthly_savings)} a month: ${a.summary}` })))
        : null,
    ),
    el("p", { class: "small muted" }, "GPUs: ", gpuLinks.flatMap((a, i) => (i ? [", ", a] : [a])), r.first_recommended ? [" · first recommended ", time(r.first_recommended)] : null),
    actions(r, refresh),
  );
}

export async function render(main, session) {
  let range = "7d";
  const summary = el("div", { class: "kpis" });
  const list = el("div", { class: "rec-stack" });
  const realized = el("div");
  const markedList = el("div", { class: "rec-stack" });
  const picker = el("div", { class: "segmented", role: "group", "aria-label": "Range the recommendations look at" });
  for (const [value, label] of [["7d", "Last 7 days"], ["30d", "Last 30 days"]]) {
    const b = el("button", { type: "button", "aria-pressed": value === range ? "true" : "false", text: label });
    b.addEventListener("click", () => {
      range = value;
      for (const x of picker.children) x.setAttribute("aria-pressed", x === b ? "true" : "false");
      refresh().catch(() => {});
    });
    picker.append(b);
  }
  const upsell = session.plan && !session.plan.all_recommendations
    ? el("p", { class: "note" }, "Your plan shows idle recommendations (stop, auto-stop, release memory). Right-sizing, consolidation and committed use come with ", el("a", { href: "/billing", text: "Professional" }), ".")
    : null;
  main.append(...[el("h1", { text: "Recommendations" }), picker, summary, upsell, card("What to change", list), card("Marked done or dismissed", markedList), card("Realized", realized)].filter(Boolean));
  async function refresh() {
    const recs = await api(`/api/recommendations?range=${range}`);
    setCurrency(recs.currency);
    summary.replaceChildren(
      el("div", { class: "kpi" }, el("div", { class: "kpi-label", text: "Savings on offer, a month" }), el("div", { class: "kpi-value", text: money(recs.total_monthly_savings) })),
      el("div", { class: "kpi" }, el("div", { class: "kpi-label", text: "Fleet cost, a month" }), el("div", { class: "kpi-value", text: money(recs.fleet_monthly_cost) })),
      el("div", { class: "kpi" }, el("div", { class: "kpi-label", text: "Realized, a month" }), el("div", { class: "kpi-value", text: money(recs.total_realized_monthly) })),
    );
    list.replaceChildren(...(recs.recommendations.length ? recs.recommendations.map((r) => recommendation(r, refresh)) : [el("p", { class: "muted", text: recs.marked && recs.marked.length ? "Nothing else to change: the rest is marked below." : "Nothing to change: no idle or oversized GPU in this range." })]));
    markedList.replaceChildren(
      ...(recs.marked && recs.marked.length
        ? recs.marked.map((m) => marked(m, refresh))
        : [el("p", { class: "muted", text: "Nothing marked. Mark a recommendation done when you acted on it, or dismiss it when it does not apply: it leaves the list and its totals, and stays here." })]),
    );
    realized.replaceChildren(
      ...(recs.realized && recs.realized.length
        ? recs.realized.map((r) => el("p", {}, el("strong", { text: `${money(r.realized_monthly_savings)} a month` }), ` · ${r.summary} (${r.change} `, time(r.changed_at), ")"))
        : [el("p", { class: "muted", text: "Nothing realized yet: when a recommended change shows in the reports, it appears here with what it saves." })]),
    );
  }
  await poll(refresh, 60);
}
