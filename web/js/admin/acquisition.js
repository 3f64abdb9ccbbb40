// The acquisition pages of the operator panel (SPEC §9):
//   /admin/acquisition          the funnel by source, by sequence and by day; the sources' state; sequences
//                               paused and resumed; referral codes; the suppression list (add, export)
//   /admin/acquisition/review   GitHub's prospects (best first) and Reddit's conversations, each recorded as
//                               contacted / answered or dismissed, with what was done
//   /admin/acquisition/leads    leads, filtered and paged; one lead's whole history with mark, export, erase
// Nothing here writes to a prospect: GitHub gives no address, and none is kept.
import { el, card, num, pct, showStatus, table, time } from "../core.js";
import { api, start } from "./panel.js";
import { confirmBox, errorLine, facts, filterForm, kpi, long, pagedList, queryOf, stateWord } from "./parts.js";

function subnav(active) {
  const links = [
    ["/admin/acquisition", "Funnel"],
    ["/admin/acquisition/review", "Review queue"],
    ["/admin/acquisition/leads", "Leads"],
  ];
  return el(
    "nav",
    { class: "subnav", "aria-label": "Acquisition" },
    links.map(([href, text]) => el("a", { href, text, "aria-current": href === active ? "page" : null })),
  );
}

function rate(value) {
  return value === null || value === undefined ? "–" : pct(value * 100, 1);
}

// ---- Funnel and control --------------------------------------------------------------------------------

function sourcesTable(rows) {
  return table(
    "Leads by source over the period",
    [
      ["Source", (r) => r.source],
      ["Leads", (r) => num(r.leads, 0), { numeric: true }],
      ["Confirmed", (r) => num(r.confirmed, 0), { numeric: true }],
      ["Signed up", (r) => num(r.signed_up, 0), { numeric: true }],
      ["Agent reported", (r) => num(r.activated, 0), { numeric: true }],
      ["Paid", (r) => num(r.paid, 0), { numeric: true }],
      ["Mails sent", (r) => num(r.sent, 0), { numeric: true }],
      ["Unsubscribed", (r) => num(r.unsubscribed, 0), { numeric: true }],
      ["Bounced", (r) => num(r.bounced, 0), { numeric: true }],
      ["Complaints", (r) => num(r.complained, 0), { numeric: true }],
      ["Replied", (r) => num(r.replied, 0), { numeric: true }],
      ["Conversion", (r) => rate(r.conversion_rate), { numeric: true }],
    ],
    rows,
    { empty: "No leads in this period." },
  );
}

// Every lead now, by source and status (not bound to the period).
function statusTable(rows) {
  const statuses = ["pending", "active", "replied", "unsubscribed", "bounced", "complained", "erased"];
  const bySource = new Map();
  for (const r of rows) {
    if (!bySource.has(r.source)) bySource.set(r.source, { source: r.source });
    bySource.get(r.source)[r.status] = r.leads;
  }
  return table(
    "Leads now, by source and status",
    [["Source", (r) => r.source], ...statuses.map((st) => [st, (r) => num(r[st] || 0, 0), { numeric: true }])],
    [...bySource.values()],
    { empty: "No leads yet." },
  );
}

function sequencesFunnel(rows) {
  return table(
    "Sequences over the period",
    [
      ["Sequence", (r) => r.sequence],
      ["Enrolled", (r) => num(r.enrolled, 0), { numeric: true }],
      ["In progress", (r) => num(r.active, 0), { numeric: true }],
      ["Sent", (r) => num(r.sent, 0), { numeric: true }],
      ["Stopped", (r) => num(r.stopped, 0), { numeric: true }],
      ["Finished", (r) => num(r.finished, 0), { numeric: true }],
      ["Paid", (r) => num(r.paid, 0), { numeric: true }],
      ["Unsubscribed", (r) => num(r.unsubscribed, 0), { numeric: true }],
      ["Conversion", (r) => rate(r.conversion_rate), { numeric: true }],
    ],
    rows,
    { empty: "No sequence activity in this period." },
  );
}

function daysTable(rows) {
  return table(
    "Day by day, newest first",
    [
      ["Day", (r) => el("span", { class: "nowrap", text: r.day })],
      ["Source", (r) => r.source],
      ["Leads", (r) => num(r.leads, 0), { numeric: true }],
      ["Signed up", (r) => num(r.signed_up, 0), { numeric: true }],
      ["Paid", (r) => num(r.paid, 0), { numeric: true }],
      ["Sent", (r) => num(r.sent, 0), { numeric: true }],
      ["Unsubscribed", (r) => num(r.unsubscribed, 0), { numeric: true }],
      ["Bounced", (r) => num(r.bounced, 0), { numeric: true }],
    ],
    rows.slice().reverse(),
    { empty: "Nothing happened in this period." },
  );
}

function stateFacts(state) {
  const rows = [
    ["GitHub", stateWord(state.github, state.github === "on" ? true : null), "github"],
    ["Reddit", stateWord(state.reddit, state.reddit === "on" ? true : null), "reddit"],
    ["Sequences", stateWord(state.sequences, state.sequences === "on" ? true : false), "sequences"],
    ["Sent today", `${num(state.sent_today, 0)} of ${num(state.daily_cap, 0)}`, "sent-today"],
  ];
  for (const source of ["github:search", "github:core", "reddit"]) {
    if (state[`${source}:last_run`] === undefined) continue;
    const wait = state[`${source}:wait_until`];
    rows.push([
      `${source}, last run`,
      el("span", {}, time(state[`${source}:last_run`]), ` — ${state[`${source}:last_result`] || "ok"}`, wait ? el("span", {}, " (waiting until ", time(wait), ")") : ""),
    ]);
  }
  return facts(rows);
}

function sequencesCard(answer, reload) {
  const error = errorLine();
  const confirm = confirmBox("seq-confirm");
  const rows = answer.sequences || [];
  const list = table(
    "Sequences and their steps",
    [
      ["Sequence", (q) => el("div", {}, el("strong", { text: q.name }), el("div", { class: "small muted", text: q.description }))],
      ["Who", (q) => `${q.segment.replaceAll("_", " ")}, until ${q.goal}`],
      ["Steps", (q) => el("ol", { class: "steps" }, q.steps.map((s) => el("li", { text: `after ${s.delay_hours} h: ${s.subject}` })))],
      ["State", (q) => [stateWord(q.paused ? "paused" : "running", q.paused ? false : true), q.updated_by ? el("div", { class: "small muted", text: `by ${q.updated_by}` }) : null]],
      ["Act", (q) => {
        const button = el("button", { type: "button", class: "small-button secondary", text: q.paused ? "Resume" : "Pause", "aria-label": `${q.paused ? "Resume" : "Pause"} the ${q.name} sequence` });
        button.addEventListener("click", () => {
          error.clear();
          confirm.open({
            heading: `${q.paused ? "Resume" : "Pause"} the ${q.name} sequence?`,
            detail: q.paused ? "Due steps go out again, inside the send window and the daily cap." : "No step of it is sent until you resume it; leads keep their place.",
            confirm: q.paused ? "Yes, resume" : "Yes, pause",
            danger: !q.paused,
            needsReason: true,
            returnTo: button,
            run: async (reason) => {
              await api(`/api/admin/acquisition/sequences/${encodeURIComponent(q.name)}/${q.paused ? "resume" : "pause"}`, { method: "POST", body: { reason } });
              showStatus(`The ${q.name} sequence is ${q.paused ? "running" : "paused"}.`, "ok");
              await reload();
            },
          });
        });
        return button;
      }],
    ],
    rows,
    { empty: "No sequences are configured." },
  );
  const s = answer.sending || {};
  const sending = el("p", { class: "muted small", text: `At most ${s.daily_cap} mails a day from ${s.sender || "(no sender)"}; ${s.window_start_hour}:00–${s.window_end_hour}:00 on ${(s.days || []).join(", ")} in each lead's time; one mail per recipient domain every ${s.domain_interval_minutes} min; up to ${s.jitter_minutes} min of jitter.` });
  const off = answer.running ? null : el("p", { class: "warn", role: "note", text: `Sequences are off: ${answer.off_because}` });
  return card("Sequences", off, sending, list, error.node, confirm.node);
}

function referralsCard(codes, reload) {
  const error = errorLine();
  const code = el("input", { id: "ref-code", name: "code", type: "text", maxlength: 64, pattern: "[a-z0-9_-]+", autocomplete: "off", required: true });
  const label = el("input", { id: "ref-label", name: "label", type: "text", maxlength: 200, autocomplete: "off" });
  const form = filterForm(
    { id: "ref-form", novalidate: true },
    el("label", { for: "ref-code", text: "New code" }), code,
    el("label", { for: "ref-label", text: "Label" }), label,
    el("button", { type: "submit", text: "Make code" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.clear();
    try {
      const made = await api("/api/admin/acquisition/referrals", { method: "POST", body: { code: code.value.trim(), label: label.value.trim() } });
      showStatus(`Referral link: ${made.link}`, "ok");
      await reload();
    } catch (err) {
      error.show(err);
    }
  });
  const list = table(
    "Referral codes and what they brought",
    [
      ["Code", (r) => el("code", { text: r.code })],
      ["Source", (r) => r.source],
      ["Label", (r) => long(r.label)],
      ["Link", (r) => el("span", { class: "long", text: r.link })],
      ["Leads", (r) => num(r.leads, 0), { numeric: true }],
      ["Paid", (r) => num(r.paid, 0), { numeric: true }],
    ],
    codes,
    { empty: "No referral codes yet: one is made for each prospect contacted and each conversation answered." },
  );
  return card("Referral codes", list, form, error.node);
}

function suppressionCard() {
  const error = errorLine();
  const confirm = confirmBox("sup-confirm");
  const kind = el("select", { id: "sup-kind", name: "kind" }, el("option", { value: "address", text: "Address" }), el("option", { value: "domain", text: "Domain" }));
  const value = el("input", { id: "sup-value", name: "value", type: "text", maxlength: 254, autocomplete: "off", required: true });
  const add = filterForm(
    { id: "sup-form", novalidate: true },
    el("label", { for: "sup-kind", text: "Kind" }), kind,
    el("label", { for: "sup-value", text: "Address or domain" }), value,
    el("button", { type: "submit", text: "Suppress" }),
  );
  const list = pagedList({
    caption: "The suppression list, newest first",
    empty: "Nobody is suppressed yet.",
    more: "Older entries",
    columns: [
      ["Added", (e) => time(e.created_at)],
      ["Kind", (e) => e.kind],
      ["Value", (e) => (e.value ? e.value : el("span", { class: "muted", text: `erased (hash ${e.hash.slice(0, 12)}…)` }))],
      ["Reason", (e) => e.reason],
      ["Source", (e) => e.source],
    ],
    fetchPage: async (before) => {
      const answer = await api("/api/admin/acquisition/suppressions?" + new URLSearchParams(before ? { before, limit: 50 } : { limit: 50 }));
      return { rows: answer.suppressions, next_before: answer.next_before };
    },
  });
  add.addEventListener("submit", (event) => {
    event.preventDefault();
    error.clear();
    const what = value.value.trim();
    if (!what) {
      error.show("Type the address or the domain to suppress.");
      value.focus();
      return;
    }
    confirm.open({
      heading: `Never write to ${kind.value === "domain" ? "anyone at " : ""}${what}?`,
      detail: "Checked before every marketing mail; sequences of the leads it covers stop now.",
      confirm: "Yes, suppress",
      needsReason: true,
      returnTo: add.querySelector("button"),
      run: async (reason) => {
        await api("/api/admin/acquisition/suppressions", { method: "POST", body: { kind: kind.value, value: what, reason } });
        showStatus(`${what} is suppressed.`, "ok");
        value.value = "";
        await list.load(true);
      },
    });
  });
  list.button.addEventListener("click", () => list.load(false).catch((err) => showStatus(err.message)));
  const csv = el("a", { class: "button secondary", href: "/api/admin/acquisition/suppressions.csv", text: "Export CSV", download: "" });
  return { box: card("Suppression list", el("p", { class: "muted small", text: "Unsubscribes, bounces, complaints and erasures land here by themselves." }), add, list.node, el("div", { class: "row" }, csv), error.node, confirm.node), load: () => list.load(true) };
}

async function funnelPage(main) {
  const params = new URLSearchParams(location.search);
  const days = /^[0-9]{1,3}$/.test(params.get("days") || "") ? params.get("days") : "30";
  const funnel = await api(`/api/admin/acquisition/funnel?days=${days}`);
  const sequences = await api("/api/admin/acquisition/sequences");
  const referrals = await api("/api/admin/acquisition/referrals");
  const totals = (funnel.sources || []).reduce((t, s) => ({ leads: t.leads + s.leads, paid: t.paid + s.paid, sent: t.sent + s.sent, unsubscribed: t.unsubscribed + s.unsubscribed }), { leads: 0, paid: 0, sent: 0, unsubscribed: 0 });
  const period = filterForm(
    { id: "period", method: "get" },
    el("label", { for: "days", text: "Days" }),
    el("select", { id: "days", name: "days" }, ["7", "30", "90", "365"].map((d) => el("option", { value: d, text: d, selected: d === days ? "" : null }))),
    el("button", { type: "submit", text: "Show" }),
  );
  const reload = async () => funnelPage(main);
  const suppression = suppressionCard();
  main.replaceChildren(
    el("h1", { text: "Acquisition" }),
    subnav("/admin/acquisition"),
    period,
    el(
      "div",
      { class: "kpis" },
      kpi("leads", "New leads", num(totals.leads, 0), `last ${days} days`),
      kpi("paid", "Converted", num(totals.paid, 0), totals.leads ? `${rate(totals.paid / totals.leads)} of new leads` : "leads that paid"),
      kpi("sent", "Mails sent", num(totals.sent, 0), `${num(totals.unsubscribed, 0)} unsubscribed`),
      kpi("prospects", "GitHub prospects", num(funnel.prospects, 0), `${num(funnel.prospects_contacted, 0)} contacted`),
      kpi("conversations", "Reddit conversations", num(funnel.conversations, 0), `${num(funnel.conversations_answered, 0)} answered`),
    ),
    card("By source", sourcesTable(funnel.sources || []), el("p", { class: "muted small", text: "Counted by when each thing happened. Conversion: leads that paid over new leads in the period." })),
    card("Leads now", statusTable(funnel.statuses || [])),
    card("By sequence", sequencesFunnel(funnel.sequences || [])),
    card("Day by day", daysTable(funnel.days || [])),
    card("Sources", stateFacts(funnel.state || {})),
    sequencesCard(sequences, reload),
    referralsCard(referrals.referrals || [], reload),
    suppression.box,
  );
  await suppression.load();
}

// ---- Review queue --------------------------------------------------------------------------------------

function decideCard(kind) {
  const prospects = kind === "prospects";
  const error = errorLine();
  const confirm = confirmBox(`${kind}-confirm`);
  const status = el("select", { id: `${kind}-status`, name: "status" },
    el("option", { value: "new", text: "To review" }),
    el("option", { value: prospects ? "contacted" : "answered", text: prospects ? "Contacted" : "Answered" }),
    el("option", { value: "dismissed", text: "Dismissed" }),
    el("option", { value: "", text: "All" }));
  const form = filterForm({ id: `${kind}-filters` }, el("label", { for: `${kind}-status`, text: "Show" }), status, el("button", { type: "submit", text: "Show" }));
  let offset = 0;
  const decide = (row, next, label, button) => {
    error.clear();
    confirm.open({
      heading: `${label}: ${prospects ? row.login : row.title}?`,
      detail: next === "dismissed" ? "It leaves the queue." : prospects
        ? "Record how you reached them (their own site or contact page; GitHub gives no address). A referral code is made for the link you send."
        : "Record that you answered in the thread. A referral code is made for a link you may share.",
      confirm: `Yes, ${label.toLowerCase()}`,
      danger: false,
      needsReason: true,
      returnTo: button,
      run: async (note) => {
        const answer = await api(`/api/admin/acquisition/${kind}/${row.id}`, { method: "POST", body: { status: next, note } });
        const code = (answer.prospect || answer.conversation || {}).referral_code;
        showStatus(code ? `Recorded. Referral code: ${code}` : "Recorded.", "ok");
        await list.load(true);
      },
    });
  };
  const actions = (row) => {
    if (row.status !== "new") return el("div", { class: "small" }, `${row.status} by ${row.decided_by || "–"}`, row.note ? el("div", { class: "muted long", text: row.note }) : null, row.referral_code ? el("code", { text: row.referral_code }) : null);
    const yes = el("button", { type: "button", class: "small-button", text: prospects ? "Contacted" : "Answered", "aria-label": `Record ${prospects ? row.login : row.title} as ${prospects ? "contacted" : "answered"}` });
    const no = el("button", { type: "button", class: "small-button secondary", text: "Dismiss", "aria-label": `Dismiss ${prospects ? row.login : row.title}` });
    yes.addEventListener("click", () => decide(row, prospects ? "contacted" : "answered", prospects ? "Contacted" : "Answered", yes));
    no.addEventListener("click", () => decide(row, "dismissed", "Dismiss", no));
    return el("div", { class: "key-actions" }, yes, no);
  };
  // Three columns, so that a phone shows the whole row: who, why, and the decision.
  const columns = prospects
    ? [
        ["Prospect", (p) => el("div", { class: "stack-tight" },
          el("a", { href: p.html_url, text: p.login, rel: "noopener noreferrer", class: "strong" }),
          el("div", { class: "small muted", text: `${p.kind}${p.name ? `, ${p.name}` : ""} · score ${num(p.score, 1)}` }),
          p.website ? el("a", { href: p.website, text: p.website.replace(/^https?:\/\//, ""), rel: "noopener noreferrer nofollow", class: "small" }) : el("span", { class: "small muted", text: "no website" }))],
        ["Why", (p) => el("div", {},
          el("ul", { class: "plain small" }, p.reasons.map((r) => el("li", { text: r }))),
          el("ul", { class: "plain small" }, p.repos.slice(0, 3).map((r) => el("li", {}, el("a", { href: r.html_url, text: r.full_name, rel: "noopener noreferrer" }), ` ★${r.stars}`))))],
        ["Decision", actions],
      ]
    : [
        ["Post", (c) => el("div", { class: "stack-tight" },
          el("a", { href: c.url, text: c.title, rel: "noopener noreferrer nofollow" }),
          el("div", { class: "small muted" }, `r/${c.subreddit} · ${c.score} points · ${c.comments} comments · `, time(c.posted_at)))],
        ["Why", (c) => el("ul", { class: "plain small" }, c.reasons.map((r) => el("li", { text: r })))],
        ["Decision", actions],
      ];
  const list = pagedList({
    caption: prospects ? "GitHub prospects, best first" : "Reddit conversations, newest first",
    empty: prospects ? "No prospects here. Discovery runs by itself; see Sources on the funnel page." : "No conversations here.",
    more: "More",
    columns,
    fetchPage: async (next) => {
      offset = next === null ? 0 : next;
      const answer = await api(`/api/admin/acquisition/${kind}?` + queryOf(form, { limit: 25, offset: offset || null }));
      return { rows: answer[kind], next_before: answer.next_offset };
    },
  });
  // On a phone each row reads as a card: the column's name beside each cell (dash.css .stacked).
  list.node.classList.add("stacked");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    list.load(true).catch((err) => showStatus(err.message));
  });
  list.button.addEventListener("click", () => list.load(false).catch((err) => showStatus(err.message)));
  const intro = prospects
    ? "Organisations and people whose public repositories match the GitHub queries. No e-mail address is taken from GitHub: reach out through their own site, then record it here."
    : "Public posts about GPU cost. The product never posts or messages on Reddit: answer by hand, then record it here.";
  return { box: card(prospects ? "GitHub prospects" : "Reddit conversations", el("p", { class: "muted small", text: intro }), form, list.node, error.node, confirm.node), load: () => list.load(true) };
}

async function reviewPage(main) {
  const prospects = decideCard("prospects");
  const conversations = decideCard("conversations");
  const error = errorLine();
  const now = el("button", { type: "button", class: "secondary", text: "Look at the sources now" });
  const confirm = confirmBox("discover-confirm");
  now.addEventListener("click", () => {
    confirm.open({
      heading: "Look at GitHub and Reddit now?",
      detail: "Each query still runs at most once a day, and rate limits are honoured.",
      confirm: "Yes, look now",
      danger: false,
      needsReason: true,
      returnTo: now,
      run: async (reason) => {
        await api("/api/admin/acquisition/discover", { method: "POST", body: { reason } });
        showStatus("Discovery started; new items appear here within a minute.", "ok");
      },
    });
  });
  main.replaceChildren(el("h1", { text: "Review queue" }), subnav("/admin/acquisition/review"), el("div", { class: "row page-actions" }, now), confirm.node, error.node, prospects.box, conversations.box);
  await Promise.all([prospects.load(), conversations.load()]);
}

// ---- Leads ---------------------------------------------------------------------------------------------

const STATUSES = ["pending", "active", "unsubscribed", "bounced", "complained", "replied", "erased"];
const SOURCES = ["signup", "audit", "github", "reddit", "referral"];

async function leadDetail(main, id) {
  const history = await api(`/api/admin/acquisition/leads/${id}`);
  const l = history.lead;
  const error = errorLine();
  const confirm = confirmBox("lead-confirm");
  const mark = (status, label, button) => {
    error.clear();
    confirm.open({
      heading: `Mark ${l.email || `lead ${l.id}`} as ${label}?`,
      detail: status === "replied" ? "Their sequences stop, and those of others at the same company." : "Their sequences stop and the address is suppressed.",
      confirm: `Yes, mark ${label}`,
      needsReason: true,
      returnTo: button,
      run: async (reason) => {
        await api(`/api/admin/acquisition/leads/${l.id}/mark`, { method: "POST", body: { status, reason } });
        showStatus(`Marked ${label}.`, "ok");
        await leadDetail(main, id);
      },
    });
  };
  const buttons = [];
  if (l.status !== "erased") {
    for (const [status, label] of [["replied", "replied"], ["bounced", "bounced"], ["unsubscribed", "unsubscribed"]]) {
      if (l.status === status) continue;
      const b = el("button", { type: "button", class: "small-button secondary", text: `Mark ${label}` });
      b.addEventListener("click", () => mark(status, label, b));
      buttons.push(b);
    }
    const erase = el("button", { type: "button", class: "small-button danger", text: "Erase" });
    erase.addEventListener("click", () => {
      error.clear();
      confirm.open({
        heading: `Erase ${l.email}?`,
        detail: "Their address, name, consent and the detail of their history are removed for good. A hashed entry stays on the suppression list so they are never written to or imported again.",
        confirm: "Yes, erase",
        needsReason: true,
        returnTo: erase,
        run: async (reason) => {
          await api(`/api/admin/acquisition/leads/${l.id}`, { method: "DELETE", body: { reason } });
          showStatus("The lead is erased.", "ok");
          await leadDetail(main, id);
        },
      });
    });
    buttons.push(erase);
  }
  const exportLink = el("a", { class: "button secondary", href: `/api/admin/acquisition/leads/${l.id}/export`, text: "Export (JSON)", download: "" });
  main.replaceChildren(
    el("h1", { text: l.email || `Lead ${l.id} (erased)` }),
    subnav("/admin/acquisition/leads"),
    el("p", {}, el("a", { href: "/admin/acquisition/leads", text: "All leads" })),
    card(
      "The lead",
      facts([
        ["Status", stateWord(l.status, l.status === "active" ? true : ["bounced", "complained", "unsubscribed", "erased"].includes(l.status) ? false : null), "status"],
        ["Source", `${l.source}${l.referral_code ? ` (code ${l.referral_code})` : ""}`, "source"],
        ["Basis", l.basis === "consent" ? "consent (a confirmed audit request)" : "customer (signed up)", "basis"],
        ["Name, company", [l.name, l.company].filter(Boolean).join(", ") || "–"],
        ["Created", time(l.created_at)],
        ["Consent", l.consent_at ? el("span", {}, time(l.consent_at), ` from ${l.consent_ip}: “${l.consent_text}”`) : "–", "consent"],
        ["Signed up", l.signed_up_at ? time(l.signed_up_at) : "–"],
        ["Agent reported", l.activated_at ? time(l.activated_at) : "–"],
        ["Paid", l.paid_at ? time(l.paid_at) : "–"],
        ["Audit sent", l.audit_sent_at ? time(l.audit_sent_at) : "–"],
      ]),
      el("div", { class: "key-actions" }, buttons, exportLink),
      error.node,
      confirm.node,
    ),
    card("Sequences", table("The lead's sequences", [
      ["Sequence", (e) => e.sequence],
      ["Next step", (e) => num(e.step + 1, 0), { numeric: true }],
      ["State", (e) => `${e.state}${e.stop_reason ? `: ${e.stop_reason}` : ""}`],
      ["Next at", (e) => (e.state === "active" ? time(e.next_at) : "–")],
      ["Joined", (e) => time(e.enrolled_at)],
    ], history.enrollments, { empty: "In no sequence." })),
    card("History", table("Everything that happened to the lead, oldest first", [
      ["When", (e) => time(e.at)],
      ["What", (e) => e.kind.replaceAll("_", " ")],
      ["Sequence", (e) => (e.sequence ? `${e.sequence}${e.step >= 0 ? ` step ${e.step + 1}` : ""}` : "–")],
      ["Detail", (e) => long(e.detail)],
    ], history.events, { empty: "Nothing yet." })),
  );
}

async function leadsPage(main) {
  const id = new URLSearchParams(location.search).get("id");
  if (id && /^[0-9]{1,18}$/.test(id)) {
    await leadDetail(main, id);
    return;
  }
  const form = filterForm(
    { id: "lead-filters" },
    el("label", { for: "l-q", text: "Address" }),
    el("input", { id: "l-q", name: "q", type: "search", maxlength: 200, autocomplete: "off" }),
    el("label", { for: "l-source", text: "Source" }),
    el("select", { id: "l-source", name: "source" }, el("option", { value: "", text: "All" }), SOURCES.map((s) => el("option", { value: s, text: s }))),
    el("label", { for: "l-status", text: "Status" }),
    el("select", { id: "l-status", name: "status" }, el("option", { value: "", text: "All" }), STATUSES.map((s) => el("option", { value: s, text: s }))),
    el("button", { type: "submit", text: "Show" }),
  );
  const list = pagedList({
    caption: "Leads, newest first",
    empty: "No leads match.",
    more: "Older leads",
    columns: [
      ["Created", (l) => time(l.created_at)],
      ["Lead", (l) => el("a", { href: `/admin/acquisition/leads?id=${l.id}`, text: l.email || `lead ${l.id} (erased)` })],
      ["Source", (l) => l.source],
      ["Status", (l) => stateWord(l.status, l.status === "active" ? true : ["bounced", "complained", "unsubscribed"].includes(l.status) ? false : null)],
      ["Stage", (l) => (l.paid_at ? "paid" : l.activated_at ? "agent reported" : l.signed_up_at ? "signed up" : l.confirmed_at ? "confirmed" : "new")],
    ],
    fetchPage: async (before) => {
      const answer = await api("/api/admin/acquisition/leads?" + queryOf(form, { limit: 50, before }));
      return { rows: answer.leads, next_before: answer.next_before };
    },
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    list.load(true).catch((err) => showStatus(err.message));
  });
  list.button.addEventListener("click", () => list.load(false).catch((err) => showStatus(err.message)));
  main.replaceChildren(el("h1", { text: "Leads" }), subnav("/admin/acquisition/leads"), card("Leads", el("p", { class: "muted small", text: "Signups (the customer relationship) and confirmed audit requests (consent). Prospects from GitHub and Reddit are not leads: see the review queue." }), form, list.node));
  await list.load(true);
}

start("/admin/acquisition", async (main) => {
  const path = location.pathname.replace(/\/+$/, "");
  if (path === "/admin/acquisition/review") return reviewPage(main);
  if (path === "/admin/acquisition/leads") return leadsPage(main);
  return funnelPage(main);
});
