// Time-series charts drawn by uPlot (web/vendor/, installed by scripts/setup from npm; decision 0023), each
// with a text twin: the same figures in a table a screen reader (or anyone) can read, behind a disclosure.
// uPlot styles through element properties and classes only, which the strict CSP allows.
import { el } from "./core.js";

const palette = () => {
  const css = getComputedStyle(document.documentElement);
  return [1, 2, 3, 4].map((i) => css.getPropertyValue(`--series-${i}`).trim() || "#2563eb");
};

const axisTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

// A chart of `series` ({label, values, format}) over `xs` (Unix seconds), in `container`, full width.
// `xFormat` writes a time for the legend and the figures (default: date and time in the viewer's zone);
// `utc` draws the time axis in UTC (monthly figures that start at 00:00 UTC). Answers {update(xs, series), destroy()}.
export function timeChart(container, { title, xs, series, yRange, height = 220, xFormat, utc = false }) {
  const formatX = xFormat || ((x) => axisTime.format(new Date(x * 1000)));
  const colors = palette();
  const box = el("div", { class: "chart", role: "img", "aria-label": `${title}: chart; the figures are in the table below it` });
  const twin = el("details", { class: "chart-figures" }, el("summary", { text: `${title}: the figures` }));
  container.append(box, twin);
  const opts = {
    width: Math.max(280, container.clientWidth || 600),
    height,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: true }, y: yRange ? { range: yRange } : {} },
    tzDate: utc ? (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC") : undefined,
    axes: [
      { stroke: "currentColor", grid: { stroke: "rgba(127,127,127,0.15)" } },
      {
        stroke: "currentColor",
        grid: { stroke: "rgba(127,127,127,0.15)" },
        size: 76,
        values: (u, ticks) => ticks.map((v) => series[0].format(v)),
      },
    ],
    series: [
      { value: (u, v) => (v == null ? "–" : formatX(v)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: colors[i % colors.length],
        width: 2,
        fill: i === 0 ? colors[0] + "22" : undefined,
        value: (u, v) => (v == null ? "–" : s.format(v)),
        spanGaps: false,
      })),
    ],
  };
  let plot = new window.uPlot(opts, [xs, ...series.map((s) => s.values)], box);
  const fillTwin = (xsNow, seriesNow) => {
    const rows = xsNow.map((x, i) =>
      el("tr", {}, el("th", { scope: "row", text: formatX(x) }),
        seriesNow.map((s) => el("td", { class: "num", text: s.values[i] == null ? "–" : s.format(s.values[i]) }))),
    );
    const tableEl = el(
      "table",
      {},
      el("caption", { class: "visually-hidden", text: title }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Time" }), seriesNow.map((s) => el("th", { scope: "col", class: "num", text: s.label })))),
      el("tbody", {}, rows),
    );
    twin.replaceChildren(twin.firstChild, el("div", { class: "table-wrap" }, tableEl));
  };
  // Filled when first opened: a month of hours is 720 rows the page need not build up front.
  let stale = true;
  let latest = [xs, series];
  twin.addEventListener("toggle", () => {
    if (twin.open && stale) {
      fillTwin(...latest);
      stale = false;
    }
  });
  const resize = new ResizeObserver(() => {
    const width = Math.max(280, container.clientWidth);
    if (Math.abs(width - plot.width) > 2) plot.setSize({ width, height });
  });
  resize.observe(container);
  return {
    update(xsNow, seriesNow) {
      plot.setData([xsNow, ...seriesNow.map((s) => s.values)]);
      latest = [xsNow, seriesNow];
      stale = true;
      if (twin.open) {
        fillTwin(xsNow, seriesNow);
        stale = false;
      }
    },
    destroy() {
      resize.disconnect();
      plot.destroy();
      plot = null;
    },
  };
}

// Sums the per-GPU usage series of /api/usage into fleet series on one time axis: utilization averaged over
// the GPUs that reported in each step (weighted by reported time), idle cost and cost summed.
export function fleetSeries(usage) {
  const byT = new Map();
  for (const gpu of usage.series) {
    for (const p of gpu.points) {
      const t = Date.parse(p.t) / 1000;
      let row = byT.get(t);
      if (!row) byT.set(t, (row = { seconds: 0, utilWeighted: 0, idleCost: 0, cost: 0, gpus: 0 }));
      if (p.reported_seconds > 0) {
        row.seconds += p.reported_seconds;
        row.utilWeighted += (p.util_avg ?? 0) * p.reported_seconds;
        row.gpus += 1;
      }
      row.idleCost += p.idle_cost ?? 0;
      row.cost += p.cost ?? 0;
    }
  }
  const xs = [...byT.keys()].sort((a, b) => a - b);
  return {
    xs,
    util: xs.map((t) => (byT.get(t).seconds > 0 ? byT.get(t).utilWeighted / byT.get(t).seconds : null)),
    idleCost: xs.map((t) => byT.get(t).idleCost),
    cost: xs.map((t) => byT.get(t).cost),
  };
}
