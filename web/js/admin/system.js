// /admin/system: what this server is and how it does: its version and uptime, the database and its size,
// the periodic jobs (every how often, the last run, how long it took, its result, the next run), the features
// on or off and why, and the settings left unset with what that costs.
import { el, card, table, time, num, showStatus } from "../core.js";
import { api, start } from "./panel.js";
import { bytes, duration, facts, long, stateWord } from "./parts.js";

function result(job) {
  if (job.result === null || job.result === undefined) return el("span", { class: "muted", text: "not run yet" });
  if (job.result === "ok") return stateWord("ok", true);
  return el("span", { class: "long warn", text: job.result });
}

start("/admin/system", async (main) => {
  const refresh = el("button", { type: "button", class: "secondary", text: "Read again" });
  const body = el("div");
  const draw = async () => {
    const s = await api("/api/admin/system");
    const failing = (s.jobs || []).filter((j) => j.result && j.result !== "ok").length;
    body.replaceChildren(
      card(
        "Server",
        facts([
          ["Version", el("code", { text: s.version || "–" }), "version"],
          ["Started", time(s.started_at)],
          ["Up for", duration(s.uptime_seconds), "uptime"],
          ["Database", s.database ? s.database.backend : "–", "database"],
          ["Database size", s.database ? bytes(s.database.bytes) : "–", "size"],
        ]),
      ),
      card(
        "Jobs",
        failing ? el("p", { class: "error", text: `${failing} job${failing === 1 ? "" : "s"} failed on the last run.` }) : null,
        table(
          "Periodic jobs",
          [
            ["Job", (j) => el("code", { text: j.name })],
            ["Every", (j) => duration(j.interval_seconds), { numeric: true }],
            ["Last run", (j) => (j.last_started ? time(j.last_started) : "never")],
            ["Took", (j) => (j.duration_ms === null || j.duration_ms === undefined ? "–" : `${num(j.duration_ms, 0)} ms`), { numeric: true }],
            ["Result", (j) => result(j)],
            ["Ran on", (j) => j.ran_on || "–"],
            ["Next run", (j) => (j.next_run ? time(j.next_run) : "–")],
          ],
          s.jobs || [],
          { empty: "No periodic jobs." },
        ),
      ),
      card(
        "Features",
        table(
          "Features, on or off",
          [
            ["Feature", (f) => f.name],
            ["State", (f) => stateWord(f.on ? "on" : "off", f.on)],
            ["Detail", (f) => long(f.detail)],
          ],
          s.features || [],
          { empty: "No features listed." },
        ),
      ),
      card(
        "Settings not set",
        table(
          "Settings not set and what that costs",
          [
            ["Setting", (m) => el("code", { text: m.name })],
            ["Effect", (m) => long(m.effect)],
          ],
          s.settings_missing || [],
          { empty: "Every setting that matters is set." },
        ),
      ),
    );
  };
  refresh.addEventListener("click", () => draw().then(() => showStatus("Read again just now.", "ok")).catch((err) => showStatus(err.message)));
  main.replaceChildren(el("h1", { text: "System" }), el("div", { class: "row page-tools" }, refresh), body);
  await draw();
});
