// Overview (/dashboard): this month's spend, idle cost, recoverable savings and projected month; fleet
// utilization and idle cost over a chosen range; the top recommendations; GPUs idle right now and who holds
// them. Refreshes itself every 30 s while visible.
import { api, card, el, money, pct, num, poll, setCurrency, table, mib, timed } from "../core.js";
import { timeChart, fleetSeries } from "../charts.js";

const RANGES = [
  ["24h", "24 h", 1, "5m"],
  ["7d", "7 days", 7, "1h"],
  ["30d", "30 days", 30, "1h"],
  ["395d", "13 months", 395, "1d"],
];

function monthStart() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), 1).toISOString().replace(".000Z", "Z");
}

// This month's spend carried to the month's end at the rate so far (the viewer's month, as monthStart).
function projectedSpend(cost) {
  const now = new Date();
  const start = new Date(now.getFullYear(), now.getMonth(), 1);
  const end = new Date(now.getFullYear(), now.getMonth() + 1, 1);
  const elapsed = now - start;
  return elapsed > 0 ? (cost * (end - start)) / elapsed : 0;
}

function kpi(label, value, hint) {
  return el("div", { class: "kpi" }, el("div", { class: "kpi-label", text: label }), el("div", { class: "kpi-value", text: value }), hint ? el("div", { class: "kpi-hint", text: hint }) : null);
}

export async function render(main, session) {
  const plan = session.plan || {};
  // The range is in the address (?range=30d), so a view can be shared and survives a reload.
  let range = new URLSearchParams(location.search).get("range") || "7d";
  if (!RANGES.some((r) => r[0] === range && r[2] <= (plan.history_days ?? 395))) range = "7d";
  const kpis = el("div", { class: "kpis", "aria-live": "polite" });
  const picker = el("div", { class: "segmented", role: "group", "aria-label": "Range" });
  const charts = el("div", { class: "charts" });
  const topRecs = el("div");
  const idleNow = el("div");
  const limitNote = el("p", { class: "note", hidden: true });

  for (const [value, label, days] of RANGES) {
    const allowed = days <= (plan.history_days ?? 395);
    const button = el("button", {
      type: "button",
      "aria-pressed": value === range ? "true" : "false",
      disabled: !allowed,
      title: allowed ? null : `Your plan keeps ${plan.history_days} days of history`,
      text: label,
    });
    button.addEventListener("click", () => {
      range = value;
      history.replaceState(null, "", value === "7d" ? location.pathname : `${location.pathname}?range=${value}`);
      for (const b of picker.children) if (b.tagName === "BUTTON") b.setAttribute("aria-pressed", b === button ? "true" : "false");
      refreshCharts().catch(() => {});
    });
    picker.append(button);
  }
  if ((plan.history_days ?? 395) < 395) {
    picker.append(el("a", { class: "upgrade-hint", href: "/billing", text: `History beyond ${plan.history_days} days comes with Professional` }));
  }

  main.append(
    el("h1", { text: "Overview" }),
    kpis,
    limitNote,
    card("Fleet over time", picker, charts),
    el("div", { class: "grid-2" }, card("Top recommendations", topRecs), card("Idle right now", idleNow)),
  );

  let utilChart = null;
  let costChart = null;
  async function refreshCharts() {
    const [, , , step] = RANGES.find((r) => r[0] === range);
    const usage = await api(`/api/usage?range=${range}&step=${step}`);
    timed(() => drawCharts(usage));
  }
  function drawCharts(usage) {
    const fleet = fleetSeries(usage);
    const util = [{ label: "Utilization", values: fleet.util, format: (v) => pct(v) }];
    const cost = [
      { label: "Idle cost", values: fleet.idleCost, format: (v) => money(v) },
      { label: "Cost", values: fleet.cost, format: (v) => money(v) },
    ];
    if (!utilChart) {
      utilChart = timeChart(charts, { title: "Fleet utilization", xs: fleet.xs, series: util, yRange: [0, 100] });
      costChart = timeChart(charts, { title: "Idle cost and cost per step", xs: fleet.xs, series: cost });
    } else {
      utilChart.update(fleet.xs, util);
      costChart.update(fleet.xs, cost);
    }
  }

  async function refreshSummary() {
    const [month, recs, gpus] = await Promise.all([
      api(`/api/savings?from=${encodeURIComponent(monthStart())}`),
      api("/api/recommendations?range=7d"),
      api("/api/gpus"),
    ]);
    timed(() => drawSummary(month, recs, gpus));
  }
  function drawSummary(month, recs, gpus) {
    setCurrency(recs.currency);
    const f = month.fleet;
    kpis.replaceChildren(
      kpi("Spend this month", money(f.cost), `${num(f.reported_hours, 0)} GPU hours reported`),
      kpi("Idle cost this month", money(f.idle_cost), `${pct(f.idle_fraction * 100)} of GPU time idle`),
      kpi("Recoverable per month", money(recs.total_monthly_savings), `${recs.recommendations.length} recommendations`),
      kpi("Projected this month", money(projectedSpend(f.cost)), "spend, at this month's rate so far"),
    );
    if (plan.gpu_limit != null && gpus.count > plan.gpu_limit) {
      limitNote.hidden = false;
      limitNote.replaceChildren(
        `Your plan analyses ${plan.gpu_limit} GPUs; ${gpus.count} report. `,
        el("a", { href: "/billing", text: "Professional has no GPU limit." }),
      );
    }
    topRecs.replaceChildren(
      recs.recommendations.length
        ? el("ol", { class: "rec-list" }, recs.recommendations.slice(0, 3).map((r) =>
            el("li", {}, el("span", { class: "rec-money", text: `${money(r.monthly_savings)}/mo` }), " ", r.summary)))
        : el("p", { class: "muted", text: "No recommendations: nothing idle or oversized in the last 7 days." }),
      el("p", {}, el("a", { href: "/recommendations", text: "All recommendations and their evidence" })),
    );
    const idle = gpus.gpus
      .filter((g) => g.state === "idle" || g.state === "idle_holding_memory")
      .sort((x, y) => (y.cost_per_hour || 0) - (x.cost_per_hour || 0));
    // Who holds them: by the user of the processes on each idle GPU (nobody: no process at all).
    const holders = new Map();
    for (const g of idle) {
      const users = new Set((g.processes || []).map((p) => p.user || p.name));
      for (const user of users.size ? users : ["nobody (no process)"]) {
        const h = holders.get(user) || { gpus: 0, hourly: 0 };
        h.gpus += 1;
        h.hourly += (g.cost_per_hour || 0) / users.size || 0;
        holders.set(user, h);
      }
    }
    const shown = idle.slice(0, 8);
    idleNow.replaceChildren(
      ...[
      idle.length
        ? el("p", {}, el("strong", { text: `${idle.length} idle GPU${idle.length === 1 ? "" : "s"}` }),
            ` cost ${money(idle.reduce((sum, g) => sum + (g.cost_per_hour || 0), 0))} an hour.`)
        : null,
      holders.size
        ? el("ul", { class: "holders" }, [...holders].sort((x, y) => y[1].hourly - x[1].hourly).map(([user, h]) =>
            el("li", {}, el("strong", { text: user }), ` holds ${h.gpus} (${money(h.hourly)}/h)`)))
        : null,
      table("GPUs idle right now", [
        ["GPU", (g) => el("a", { href: `/gpu?key=${encodeURIComponent(g.gpu)}`, class: "nowrap", text: `${g.host} #${g.gpu_index}` })],
        ["Memory held", (g) => mib(g.mem_used), { numeric: true }],
        ["Held by", (g) => (g.processes || []).map((p) => `${p.name}${p.user ? ` (${p.user})` : ""}`).join(", ") || "nobody"],
        ["Cost/h", (g) => money(g.cost_per_hour), { numeric: true }],
      ], shown, { empty: "No GPU is idle right now." }),
      idle.length > shown.length ? el("p", {}, el("a", { href: "/fleet", text: `All ${idle.length} idle GPUs in the fleet view` })) : null,
      ].filter(Boolean),
    );
  }

  await poll(async () => {
    await Promise.all([refreshSummary(), refreshCharts()]);
  });
}
