// Fleet (/fleet): every host and its GPUs with state, utilization, memory, processes, cost per hour and last
// report; sorted and filtered in the page; refreshes itself every 30 s while visible.
import { api, el, money, pct, poll, mib, ago, card } from "../core.js";

const STATES = {
  busy: "Busy",
  idle: "Idle",
  idle_holding_memory: "Idle, holding memory",
  offline: "Offline",
};

export function stateBadge(state) {
  return el("span", { class: `badge state-${state}`, text: STATES[state] || state });
}

const COLUMNS = [
  ["host", "Host / GPU", (g) => `${g.host} ${String(g.gpu_index).padStart(3, "0")}`],
  ["state", "State", (g) => Object.keys(STATES).indexOf(g.state)],
  ["util", "Utilization", (g) => g.gpu_util ?? -1],
  ["mem", "Memory", (g) => g.mem_used ?? -1],
  ["cost", "Cost/h", (g) => g.cost_per_hour ?? -1],
  ["last", "Last report", (g) => g.last_report || ""],
];

export async function render(main) {
  let sortKey = "host";
  let ascending = true;
  let data = { gpus: [] };
  const filterText = el("input", { id: "fleet-filter", type: "search", placeholder: "host, model, process, user", autocomplete: "off" });
  const filterState = el(
    "select",
    { id: "fleet-state" },
    el("option", { value: "", text: "All states" }),
    Object.entries(STATES).map(([value, label]) => el("option", { value, text: label })),
  );
  const summary = el("p", { class: "muted", "aria-live": "polite" });
  const holder = el("div");
  main.append(
    el("h1", { text: "Fleet" }),
    card(
      "GPUs",
      el(
        "div",
        { class: "filters" },
        el("label", { for: "fleet-filter", text: "Filter" }),
        filterText,
        el("label", { for: "fleet-state", text: "State" }),
        filterState,
      ),
      summary,
      holder,
    ),
  );

  function draw() {
    const needle = filterText.value.trim().toLowerCase();
    const wanted = filterState.value;
    const rows = data.gpus.filter((g) => {
      if (wanted && g.state !== wanted) return false;
      if (!needle) return true;
      const hay = [g.host, g.gpu_name, g.uuid, ...(g.processes || []).flatMap((p) => [p.name, p.user, p.pod, p.namespace])]
        .filter(Boolean)
        .join(" ")
        .toLowerCase();
      return hay.includes(needle);
    });
    const key = COLUMNS.find((c) => c[0] === sortKey)[2];
    rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) * (ascending ? 1 : -1));
    const hourly = rows.filter((g) => g.state !== "offline").reduce((sum, g) => sum + (g.cost_per_hour || 0), 0);
    summary.textContent = `${rows.length} of ${data.gpus.length} GPUs · ${money(hourly)} an hour for those reporting`;
    const head = el(
      "tr",
      {},
      COLUMNS.map(([k, label]) => {
        const button = el("button", { type: "button", class: "sort", text: label });
        button.addEventListener("click", () => {
          ascending = sortKey === k ? !ascending : true;
          sortKey = k;
          draw();
        });
        return el("th", { scope: "col", "aria-sort": sortKey === k ? (ascending ? "ascending" : "descending") : null }, button);
      }),
      el("th", { scope: "col", text: "Processes" }),
    );
    const body = rows.map((g) =>
      el(
        "tr",
        {},
        el("td", {}, el("a", { href: `/gpu?key=${encodeURIComponent(g.gpu)}` }, `${g.host} #${g.gpu_index}`), el("div", { class: "muted small", text: g.gpu_name })),
        el("td", {}, stateBadge(g.state)),
        el("td", { class: "num" }, pct(g.gpu_util), el("div", { class: "bar", "aria-hidden": "true" }, barFill(g.gpu_util))),
        el("td", { class: "num", text: `${mib(g.mem_used)} / ${mib(g.mem_total)}` }),
        el("td", { class: "num", text: money(g.cost_per_hour) }),
        el("td", { title: g.last_report, text: ago(g.last_report) }),
        el("td", { class: "small", text: (g.processes || []).map((p) => `${p.name} ${mib(p.used_mem)}${p.user ? ` (${p.user})` : ""}`).join(", ") || "–" }),
      ),
    );
    holder.replaceChildren(
      rows.length
        ? el("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "GPUs" }, el("table", { class: "fleet" }, el("caption", { class: "visually-hidden", text: "GPUs of the fleet" }), el("thead", {}, head), el("tbody", {}, body)))
        : el("p", { class: "muted", text: data.gpus.length ? "No GPU matches." : "No GPU has reported yet: install the agent (Settings shows the command)." }),
    );
  }
  filterText.addEventListener("input", draw);
  filterState.addEventListener("change", draw);
  await poll(async () => {
    data = await api("/api/gpus");
    draw();
  });
}

function barFill(value) {
  const fill = el("span");
  fill.style.width = `${Math.max(0, Math.min(100, value || 0))}%`;
  return fill;
}
