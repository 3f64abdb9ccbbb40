// The signed-in pages' entry: each page's HTML names its module in data-page.
import { start } from "./core.js";

const PAGES = {
  overview: ["/dashboard", () => import("./pages/overview.js")],
  fleet: ["/fleet", () => import("./pages/fleet.js")],
  gpu: ["/fleet", () => import("./pages/gpu.js")],
  recommendations: ["/recommendations", () => import("./pages/recommendations.js")],
  alerts: ["/alerts", () => import("./pages/alerts.js")],
  billing: ["/billing", () => import("./pages/billing.js")],
  settings: ["/settings", () => import("./pages/settings.js")],
};

const name = document.querySelector("script[data-page]").dataset.page;
const [active, load] = PAGES[name];
load().then((page) => start(active, page.render));
