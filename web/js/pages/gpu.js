// A GPU's own page (/gpu?key=host/uuid): its state now, utilization and memory over the chosen range, what
// it cost and cost idle, and the recommendations that concern it. Refreshes itself every 30 s while visible.
import { api, card, el, money, pct, num, poll, mib, time, setCurrency, table } from "../core.js";
import { timeChart } from "../charts.js";
import { stateBadge } from "./fleet.js";

export async function render(main) {
  const key = new URLSearchParams(location.search).get("key") || "";
  const head = el("h1", { text: "GPU" });
  const facts = el("dl", { class: "facts" });
  const totals = el("div", { class: "kpis" });
  const charts = el("div", { class: "charts" });
  const findings = el("div");
  main.append(head, card("Now", facts), totals, card("The last 7 days", charts), card("Findings", findings));
  let util = null;
  let mem = null;
  await poll(async () => {
    const [gpus, usage, savings, recs] = await Promise.all([
      api("/api/gpus"),
      api(`/api/usage?range=7d&step=1h&gpu=${encodeURIComponent(key)}`),
      api(`/api/savings?range=7d`),
      api(`/api/recommendations?range=7d`),
    ]);
    setCurrency(recs.currency);
    const g = gpus.gpus.find((x) => x.gpu === key || x.uuid === key);
    if (!g) {
      head.textContent = "GPU not found";
      facts.replaceChildren(el("p", { text: "This account has no GPU with that name." }));
      return;
    }
    head.textContent = `${g.host} #${g.gpu_index} · ${g.gpu_name}`;
    facts.replaceChildren(
      el("dt", { text: "State" }), el("dd", {}, stateBadge(g.state)),
      el("dt", { text: "Utilization" }), el("dd", { text: pct(g.gpu_util) }),
      el("dt", { text: "Memory" }), el("dd", { text: `${mib(g.mem_used)} of ${mib(g.mem_total)}` }),
      el("dt", { text: "Processes" }), el("dd", { text: (g.processes || []).map((p) => `${p.name} (pid ${p.pid}${p.user ? `, ${p.user}` : ""}) ${mib(p.used_mem)}`).join("; ") || "none" }),
      el("dt", { text: "Temperature / power" }), el("dd", { text: `${num(g.temperature, 0)} °C · ${num(g.power_w, 0)} W` }),
      el("dt", { text: "Cost per hour" }), el("dd", { text: money(g.cost_per_hour) }),
      el("dt", { text: "Last report" }), el("dd", {}, time(g.last_report)),
    );
    const t = (savings.gpus || []).find((x) => x.gpu === g.gpu);
    if (t) {
      totals.replaceChildren(
        kpi("Cost, 7 days", money(t.cost)),
        kpi("Idle cost, 7 days", money(t.idle_cost)),
        kpi("Idle share", pct(t.idle_fraction * 100)),
        kpi("Recoverable / month", money(t.recoverable_savings * (30 / 7))),
      );
    }
    const series = usage.series[0] || { points: [] };
    const xs = series.points.map((p) => Date.parse(p.t) / 1000);
    const u = [
      { label: "Utilization", values: series.points.map((p) => (p.reported_seconds > 0 ? p.util_avg : null)), format: (v) => pct(v) },
      { label: "SM activity", values: series.points.map((p) => p.sm_active), format: (v) => pct(v) },
    ];
    const m = [{ label: "Memory used (max)", values: series.points.map((p) => (p.reported_seconds > 0 ? p.mem_used_max : null)), format: (v) => mib(v) }];
    if (!util) {
      util = timeChart(charts, { title: "Utilization", xs, series: u, yRange: [0, 100] });
      mem = timeChart(charts, { title: "Memory", xs, series: m, yRange: g.mem_total ? [0, g.mem_total] : undefined });
    } else {
      util.update(xs, u);
      mem.update(xs, m);
    }
    const mine = recs.recommendations.filter((r) => (r.gpus || [r.target]).includes(g.gpu));
    findings.replaceChildren(
      table("Recommendations for this GPU", [
        ["Recommendation", (r) => r.summary],
        ["Confidence", (r) => r.confidence],
        ["Per month", (r) => money(r.monthly_savings), { numeric: true }],
      ], mine, { empty: "Nothing to change on this GPU in the last 7 days." }),
    );
  });
}

function kpi(label, value) {
  return el("div", { class: "kpi" }, el("div", { class: "kpi-label", text: label }), el("div", { class: "kpi-value", text: value }));
}
