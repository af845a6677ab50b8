#!/usr/bin/env node
// bench/run.sh serve-ui [--devices N] [--routers M] [--loads K]: first load of the devtools page
// in headless chromium against `patchbay serve`, for a generated run of N devices (default 1,000)
// and, as the baseline in the same run, of 5 devices. Time = navigation start until the frame after
// the topology with every node was drawn (two animation frames later: painted), the median of K
// fresh loads; also the page's own layout + SVG build time and the size of the page. Prints JSON lines like the other benchmarks.
import { join, resolve } from "node:path";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
process.env.PATCHBAY_CLI = resolve(args[0]);
// Imported after PATCHBAY_CLI is set: the driver checks its prerequisites when it loads.
const { launchBrowser, SOURCE_DIR, startServer, tempDir } = await import("../tests/ui/driver.mjs");
const devices = opt("--devices", 1000);
const routers = opt("--routers", 20);
const loads = opt("--loads", 5);
const { generateLab, writeRun } = await import(join(SOURCE_DIR, "ui/dev/labgen.mjs"));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const emit = (metric, value, unit, extra = {}) => console.log(JSON.stringify({ bench: "serve-ui", metric, value: Math.round(value * 10) / 10, unit, ...extra }));

async function measure(browser, nDevices, nRouters) {
  const tmp = tempDir("bench");
  const lab = generateLab({ routers: nRouters, devices: nDevices, label: `bench-${nDevices}` });
  writeRun(tmp.dir, lab);
  const nodes = 1 + Object.keys(lab.state.routers).length + Object.keys(lab.state.devices).length;
  const server = await startServer(tmp.dir);
  const page = await browser.page();
  const total = [];
  const draw = [];
  const layout = [];
  let pageBytes = 0;
  try {
    for (let i = 0; i < loads; i++) {
      await page.goto("about:blank");
      await page.goto(`${server.url}/#tab=topology`);
      await page.locator(`.topo-svg[data-nodes="${nodes}"]`).waitFor({ timeout: 60_000 });
      await page.waitForFunction((n) => performance.getEntriesByName("patchbay:topology-painted").some((e) => e.detail.nodes === n), nodes);
      const t = await page.evaluate((n) => {
        const m = performance.getEntriesByName("patchbay:topology-draw");
        const last = m[m.length - 1];
        const l = performance.getEntriesByName("patchbay:topology-layout");
        const nav = performance.getEntriesByType("navigation")[0];
        const painted = performance.getEntriesByName("patchbay:topology-painted").find((e) => e.detail.nodes === n);
        return { done: painted.startTime, draw: last.duration, layout: l[l.length - 1].duration, bytes: nav.transferSize || nav.encodedBodySize };
      }, nodes);
      total.push(t.done);
      draw.push(t.draw);
      layout.push(t.layout);
      pageBytes = t.bytes;
    }
  } finally {
    await server.stop();
    tmp.cleanup();
  }
  return { nodes, total: median(total), draw: median(draw), layout: median(layout), pageBytes, events: lab.events.length };
}

const browser = await launchBrowser();
try {
  const base = await measure(browser, 5, 4);
  emit("first_load_baseline_5_devices", base.total, "ms", { nodes: base.nodes, loads });
  const big = await measure(browser, devices, routers);
  emit(`first_load_${devices}_devices`, big.total, "ms", { nodes: big.nodes, events: big.events, loads });
  emit(`layout_and_draw_${devices}_devices`, big.draw, "ms", { nodes: big.nodes, layout_ms: Math.round(big.layout) });
  emit("page_size", base.pageBytes / 1024, "KiB");
} finally {
  await browser.close();
}
