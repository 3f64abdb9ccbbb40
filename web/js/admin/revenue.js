// /admin: the money first. Headline figures (MRR, ARR, paying customers, subscriptions active and in grace,
// this month's revenue, conversion), MRR month by month as a chart with its figures, the movements of
// each month (new, expansion, contraction, churned MRR; sign-ups and conversions; revenue), this month's MRR
// by plan and by gateway, and the server's own definitions of every figure, written on the page.
import { el, card, money, num, pct, setCurrency, table } from "../core.js";
import { timeChart } from "../charts.js";
import { api, start } from "./panel.js";
import { kpi } from "./parts.js";

const monthName = new Intl.DateTimeFormat(undefined, { month: "short", year: "numeric", timeZone: "UTC" });

// "2026-11" as Unix seconds at the start of that month, UTC.
function monthStart(month) {
  const [y, m] = month.split("-").map(Number);
  return Date.UTC(y, m - 1, 1) / 1000;
}

function label(month) {
  return monthName.format(new Date(monthStart(month) * 1000));
}

function rate(value) {
  return value === null || value === undefined ? "–" : pct(value * 100, 1);
}

// A movement that lowers MRR is shown as a loss.
function loss(value) {
  return value ? `−${money(Math.abs(value))}` : money(0);
}

function breakdown(caption, what, mrr, counts) {
  const rows = Object.entries(mrr || {})
    .map(([name, value]) => ({ name, value, count: counts ? counts[name] : undefined }))
    .sort((a, b) => b.value - a.value || a.name.localeCompare(b.name));
  const columns = [
    [what, (r) => r.name],
    ["MRR", (r) => money(r.value), { numeric: true }],
  ];
  if (counts) columns.push(["Customers", (r) => (r.count === undefined ? "–" : num(r.count, 0)), { numeric: true }]);
  return table(caption, columns, rows, { empty: "No MRR this month." });
}

const TERMS = [
  ["mrr", "MRR"],
  ["new", "New MRR"],
  ["expansion", "Expansion"],
  ["contraction", "Contraction"],
  ["churned", "Churned MRR"],
  ["conversion", "Conversion"],
  ["revenue", "Revenue"],
];

start("/admin", async (main) => {
  setCurrency("USD");
  const answer = await api("/api/admin/revenue?months=12");
  const months = answer.months || [];
  const current = answer.current || {};
  const thisMonth = months.length ? months[months.length - 1] : null;

  const kpis = el(
    "div",
    { class: "kpis" },
    kpi("mrr", "MRR", money(current.mrr), "monthly recurring revenue now"),
    kpi("arr", "ARR", money(current.arr), "MRR × 12"),
    kpi("paying", "Paying customers", num(current.paying_customers, 0),
      current.customers_by_plan ? `customers by plan: ${Object.entries(current.customers_by_plan).map(([p, n]) => `${p} ${n}`).join(", ")}` : null),
    kpi("subscriptions", "Subscriptions", num(current.active_subscriptions, 0), `active; ${num(current.grace_subscriptions, 0)} in grace`),
    kpi("revenue", "Revenue this month", money(current.revenue_this_month), "money received"),
    // As the definition says: paying accounts over all accounts now; this month's sign-ups beside it.
    kpi("conversion", "Conversion", current.total_customers ? rate(current.paying_customers / current.total_customers) : "–",
      [current.total_customers !== undefined ? `${num(current.paying_customers, 0)} paying of ${num(current.total_customers, 0)} accounts` : null,
        thisMonth ? `this month ${num(thisMonth.converted, 0)} of ${num(thisMonth.signups, 0)} sign-ups` : null].filter(Boolean).join("; ")),
  );

  const chartBox = el("div", { class: "charts" });
  const prices = answer.prices
    ? el("p", { class: "muted small", text: `Prices: ${Object.entries(answer.prices).map(([p, v]) => `${p} ${money(v, 0)} a month`).join(", ")}.` })
    : null;

  const monthsTable = table(
    "Revenue month by month, newest first",
    [
      ["Month", (m) => el("span", { class: "nowrap", text: label(m.month) })],
      ["MRR at start", (m) => money(m.mrr_start), { numeric: true }],
      ["New", (m) => money(m.new_mrr), { numeric: true }],
      ["Expansion", (m) => money(m.expansion_mrr), { numeric: true }],
      ["Contraction", (m) => loss(m.contraction_mrr), { numeric: true }],
      ["Churned", (m) => loss(m.churned_mrr), { numeric: true }],
      ["MRR at end", (m) => money(m.mrr_end), { numeric: true }],
      ["Sign-ups", (m) => num(m.signups, 0), { numeric: true }],
      ["Converted", (m) => num(m.converted, 0), { numeric: true }],
      ["Conversion", (m) => rate(m.conversion_rate), { numeric: true }],
      ["Revenue", (m) => money(m.revenue_usd), { numeric: true }],
    ],
    months.slice().reverse(),
    { empty: "No months yet." },
  );

  const defs = answer.definitions || {};
  const known = TERMS.filter(([key]) => defs[key]);
  const extra = Object.keys(defs).filter((key) => !TERMS.some(([k]) => k === key)).map((key) => [key, key]);
  const definitions = el(
    "dl",
    { class: "definitions" },
    [...known, ...extra].flatMap(([key, term]) => [el("dt", { text: term }), el("dd", { text: defs[key] })]),
  );

  main.replaceChildren(
    el("h1", { text: "Revenue" }),
    kpis,
    card("MRR over time", chartBox, prices),
    card("Month by month", monthsTable),
    el(
      "div",
      { class: "grid-2" },
      card(`MRR by plan${thisMonth ? `, ${label(thisMonth.month)}` : ""}`,
        breakdown("MRR by plan this month", "Plan", thisMonth && thisMonth.mrr_by_plan, current.customers_by_plan)),
      card(`MRR by gateway${thisMonth ? `, ${label(thisMonth.month)}` : ""}`,
        breakdown("MRR by gateway this month", "Gateway", thisMonth && thisMonth.mrr_by_gateway)),
    ),
    card("What the figures mean", known.length || extra.length ? definitions : el("p", { class: "muted", text: "The server sent no definitions." })),
  );

  if (months.length) {
    timeChart(chartBox, {
      title: "MRR at the end of each month",
      xs: months.map((m) => monthStart(m.month)),
      series: [{ label: "MRR", values: months.map((m) => m.mrr_end), format: (v) => money(v, 0) }],
      xFormat: (x) => monthName.format(new Date(x * 1000)),
      utc: true,
    });
  } else {
    chartBox.append(el("p", { class: "muted", text: "No months to draw yet." }));
  }
});
