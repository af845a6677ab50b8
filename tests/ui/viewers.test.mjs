// The Logs viewers on a file of every kind (tests/ui/fixtures.mjs), the theme toggle, and
// screenshots of every tab in light and dark at both window sizes (<build>/ui-screenshots/).
import assert from "node:assert/strict";
import { appendFileSync, copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BIG_LOG_LINES, writeShowcase } from "./fixtures.mjs";
import { launchBrowser, screenshot, startServer, tempDir } from "./driver.mjs";

let tmp;
let server;
let browser;
let page;
let runs;

before(async () => {
  tmp = tempDir("viewers");
  runs = writeShowcase(tmp.dir);
  // A run without results.json: its run view has no Perf tab.
  mkdirSync(join(tmp.dir, "plain"));
  for (const f of ["events.jsonl", "state.json"]) copyFileSync(join(runs.bigDir, f), join(tmp.dir, "plain", f));
  server = await startServer(tmp.dir);
  browser = await launchBrowser();
  page = await browser.page();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp?.cleanup();
});

const open = async (tab, run = runs.big) => {
  await page.goto("about:blank");
  await page.goto(`${server.url}/#run=${encodeURIComponent(run)}&tab=${tab}`);
  await page.locator(`.tab-btn.active`, { hasText: tab }).waitFor();
};
const openFile = async (path) => {
  await page.locator(`.log-file[data-path="${path}"]`).click();
  await page.locator(".viewer-title", { hasText: path }).waitFor();
};

test("tracing log lines: level toggles, span and target visibility, search next/previous", async () => {
  await open("logs");
  await openFile("device.laptop002.tracing.jsonl");
  const entries = page.locator(".log-lines .log-entry");
  await page.locator(".log-entry", { hasText: "connection reset by peer" }).waitFor();
  const total = await entries.count();
  assert.equal(total, 47);
  await page.locator(".level-toggle", { hasText: "DEBUG" }).click();
  assert.equal(await page.locator(".log-lines .log-entry:not(.filtered)").count(), total - 41);
  await page.locator(".level-toggle", { hasText: "DEBUG" }).click();
  assert.equal(await page.locator(".log-lines .log-entry:not(.filtered)").count(), total);

  await page.locator(".check", { hasText: "spans" }).locator("input").uncheck();
  assert.equal(await page.locator(".log-spans").first().isVisible(), false);
  await page.locator(".check", { hasText: "spans" }).locator("input").check();
  assert.equal(await page.locator(".log-spans").first().isVisible(), true);

  await page.locator(".search-box input").fill("retrans");
  await page.locator(".search-box .count", { hasText: "1/1" }).waitFor();
  await page.locator(".search-box input").fill("chunk");
  await page.locator(".search-box .count", { hasText: "1/40" }).waitFor();
  await page.locator(".search-box button", { hasText: "↓" }).click();
  await page.locator(".search-box .count", { hasText: "2/40" }).waitFor();
  await page.locator(".search-box button", { hasText: "↑" }).click();
  await page.locator(".search-box button", { hasText: "↑" }).click();
  await page.locator(".search-box .count", { hasText: "40/40" }).waitFor();
  assert.match(await page.locator(".search-current").textContent(), /n=39/);
});

test("timestamps switch between absolute and relative to the lab's start", async () => {
  await open("logs");
  await openFile("device.laptop002.tracing.jsonl");
  const ts = page.locator(".log-entry .log-ts").first();
  await ts.waitFor();
  assert.match(await ts.textContent(), /^12:00:01\.2\d{5}$/);
  await page.locator(".ts-toggle").click();
  assert.match(await ts.textContent(), /^\+1\.19\d{4}s$/);
});

test("ANSI text keeps its colours and columns; text logs show as lines", async () => {
  await open("logs");
  await openFile("device.laptop002.tracing.log");
  const err = page.locator(".log-entry", { hasText: "connection reset by peer" });
  await err.waitFor();
  assert.equal(await err.locator(".log-level").textContent(), "ERROR");
  assert.equal(await err.locator(".log-target").textContent(), "app::net:");
  assert.ok((await err.locator(".ansi-italic").count()) > 0);
  assert.ok((await err.locator(".log-spans .ansi-bold").count()) > 0);
  await openFile("device.server01.iperf-server.stdout.log");
  await page.locator(".log-entry", { hasText: "Server listening on 5201" }).waitFor();
});

test("a large log opens on its last 256 KiB, whole lines only, then follows appends", async () => {
  await open("logs");
  await openFile("device.tv003.tracing.jsonl");
  await page.locator(".viewer-status", { hasText: "last 256 KiB" }).waitFor();
  const last = page.locator(".log-lines .log-entry", { hasText: `line ${BIG_LOG_LINES - 1} ` });
  await last.waitFor();
  const entries = await page.locator(".log-lines .log-entry").count();
  assert.ok(entries > 1000 && entries < BIG_LOG_LINES, `${entries} entries`);
  // The range starts inside a line: that fragment is dropped, every shown entry is a record.
  assert.equal(await page.locator(".log-lines .log-entry .log-level").count(), entries);
  const first = Number(/line (\d+)/.exec(await page.locator(".log-lines .log-entry").first().textContent())[1]);
  assert.equal(first, BIG_LOG_LINES - entries);
  const rec = (n) => JSON.stringify({ timestamp: "2026-03-05T12:00:09.000000Z", level: "WARN", fields: { message: `appended ${n}` }, target: "app::bulk" });
  appendFileSync(join(runs.bigDir, "device.tv003.tracing.jsonl"), `${rec(1)}\n${rec(2)}\n`);
  await page.locator(".log-entry", { hasText: "appended 2" }).waitFor();
  assert.equal(await page.locator(".log-lines .log-entry").count(), entries + 2);
});

test("json as a collapsible tree, qlog as a filterable table", async () => {
  await open("logs");
  await openFile("sim.json");
  await page.locator(".json-tree .jt-key", { hasText: "runtime_ms" }).waitFor();
  const setup = page.locator(".json-tree details", { has: page.locator("summary", { hasText: "setup" }) }).first();
  assert.equal(await setup.getAttribute("open"), "");
  await setup.locator("summary").first().click();
  assert.equal(await setup.getAttribute("open"), null);
  await screenshot(page, "viewer-json");

  await openFile("device.laptop002.quic.qlog");
  await page.locator(".qlog-row").first().waitFor();
  assert.equal(await page.locator(".qlog-row").count(), 30);
  await page.locator(".viewer-tools .filter-input").fill("metrics_updated");
  assert.equal(await page.locator(".qlog-row:not(.filtered)").count(), 7);
  await screenshot(page, "viewer-qlog");
});

test("timeline reads per-node events files and _events:: lines of text-only nodes", async () => {
  await open("timeline");
  await page.locator(".timeline-event-cell", { hasText: "TransferDone" }).waitFor();
  await page.locator(".timeline-event-cell", { hasText: "RouterAdvertisement" }).waitFor();
  // Each source adds its column when its first lines arrive, in any order: wait for all of them.
  const headers = page.locator(".timeline-table thead th");
  for (const name of ["_lab", "home01", "laptop002"]) await headers.filter({ hasText: new RegExp(`^${name}$`) }).waitFor();
  assert.deepEqual(await headers.allTextContents(), ["time", "_lab", "home01", "laptop002"]);
  await page.locator(".timeline-event-cell", { hasText: "RouterAdvertisement" }).click();
  await page.getByRole("button", { name: "jump to logs" }).click();
  await page.locator(".log-entry.jump-hit", { hasText: "RouterAdvertisement" }).waitFor();
  assert.match(await page.locator(".viewer-title").textContent(), /router\.home01\.tracing\.log/);
});

test("the theme toggle switches between light and dark and is remembered", async () => {
  await open("topology");
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme ?? "auto");
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const before = await bg();
  await page.locator(".theme-toggle").click();
  assert.equal(await theme(), "dark");
  assert.notEqual(await bg(), before);
  await page.reload();
  assert.equal(await theme(), "dark");
  await page.locator(".theme-toggle").click();
  assert.equal(await theme(), "light");
});

test("the Perf tab: only for a run with results.json, always for an invocation", async () => {
  const perfBtn = page.locator(".tab-btn", { hasText: "perf" });
  await open("perf", runs.big);
  await page.locator(".perf-table td", { hasText: "iperf-tcp" }).waitFor();
  assert.equal(await perfBtn.isVisible(), true);
  // Opened on Perf by the URL: once the listing shows no results.json, the topology takes over.
  await page.goto("about:blank");
  await page.goto(`${server.url}/#run=plain&tab=perf`);
  await page.locator(".tab-btn.active", { hasText: "topology" }).waitFor();
  await perfBtn.waitFor({ state: "hidden" });
  assert.equal(await perfBtn.isVisible(), false);
  await page.goto("about:blank");
  await page.goto(`${server.url}/#inv=${encodeURIComponent(runs.invocation)}&tab=perf`);
  await page.locator(".perf h2", { hasText: "all steps" }).waitFor();
  assert.equal(await perfBtn.isVisible(), true);
});

// Every tab, light and dark, 1600x1000 and 1366x768: the pictures a reviewer looks at.
test("screenshots of every tab", async () => {
  const views = [
    ["topology", runs.big, async () => page.locator('.node[data-id="r:home01"]').click()],
    ["logs", runs.big, async () => openFile("device.laptop002.tracing.jsonl")],
    ["timeline", runs.big, async () => page.locator(".timeline-event-cell", { hasText: "TransferDone" }).click()],
    ["perf", runs.big, async () => page.locator(".perf-table td", { hasText: "iperf-tcp" }).waitFor()],
    ["perf", runs.invocation, async () => page.locator(".perf h2", { hasText: "all steps" }).waitFor(), "combined"],
  ];
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.evaluate(() => localStorage.removeItem("patchbay-theme"));
    for (const [width, height] of [
      [1600, 1000],
      [1366, 768],
    ]) {
      await page.setViewportSize({ width, height });
      for (const [tab, run, prepare, name] of views) {
        const kind = run === runs.invocation ? "inv" : "run";
        await page.goto("about:blank"); // a fresh load: the theme is read at start
        await page.goto(`${server.url}/#${kind}=${encodeURIComponent(run)}&tab=${tab}`);
        await page.locator(".tab-btn.active", { hasText: tab }).waitFor();
        await prepare();
        await page.waitForTimeout(300);
        await screenshot(page, `${name ?? tab}-${scheme}-${width}x${height}`);
      }
    }
  }
  assert.deepEqual(browser.errors, []);
});
