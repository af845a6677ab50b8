// SPEC 17.17 item 152: the library e2e lab (ui_e2e_lab, SPEC 17.15 item 128) served by
// `patchbay serve` and checked in the browser: header, topology, logs, timeline, jump to logs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { env, launchBrowser, run, screenshot, SOURCE_DIR, startServer, tempDir } from "./driver.mjs";

let tmp;
let runDir;
let server;
let browser;
let page;

before(async () => {
  tmp = tempDir("e2e");
  runDir = join(tmp.dir, "e2e-run");
  await run(env("UI_E2E_LAB"), [runDir]);
  server = await startServer(runDir);
  browser = await launchBrowser();
  page = await browser.page();
  await page.goto(`${server.url}/`);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp?.cleanup();
});

test("header: heading, the run (label e2e-test) and its stopped status", async () => {
  await page.getByRole("heading", { name: "patchbay" }).waitFor();
  // The options arrive with /api/runs after the heading: wait for them before reading the list.
  await page.locator("select.run-select option", { hasText: "e2e-test" }).waitFor({ state: "attached" });
  const options = await page.locator("select.run-select option").allTextContents();
  assert.ok(options.some((o) => o.includes("e2e-test")), `options: ${options}`);
  await page.locator(".run-status", { hasText: "stopped" }).waitFor();
  assert.match(await page.locator(".run-opid").textContent(), /^opid \d+$/);
});

test("topology shows dc, home, client and server", async () => {
  await page.locator(".tab-btn", { hasText: "topology" }).click();
  for (const name of ["dc", "isp", "home", "client", "server"]) {
    await page.locator(".node .node-title", { hasText: new RegExp(`^${name}( \\[|$)`) }).first().waitFor();
  }
  await page.locator(".node-ix .node-title", { hasText: /^IX \(\d+\.\d+\.\d+\.\d+\)$/ }).waitFor();
  // home is behind isp with the Home preset: NAT and firewall badges.
  const home = page.locator('.node[data-id="r:home"]');
  assert.equal(await home.locator(".badge-nat").textContent(), "nat:home");
  assert.match(await home.locator(".badge-fw").textContent(), /^fw:/);
  await page.locator('.edge-label[data-edge="if:client:eth0"]').waitFor();
  await home.click();
  await page.locator(".detail-panel .detail-head h2", { hasText: "home" }).waitFor();
  const panel = await page.locator(".detail-panel").textContent();
  for (const field of ["downstream_cidr", "uplink_ip", "condition up", "condition down", "counters", "client"]) assert.ok(panel.includes(field), field);
  await screenshot(page, "e2e-topology");
});

test("logs: events.jsonl rows, node groups with tracing.jsonl, the nested-span record", async () => {
  await page.locator(".tab-btn", { hasText: "logs" }).click();
  await page.locator(".log-file", { hasText: "events.jsonl" }).first().click();
  await page.locator(".event-row", { hasText: "router_added" }).first().waitFor();
  await page.locator(".event-row", { hasText: "device_added" }).first().waitFor();
  for (const node of ["client", "server"]) {
    await page.locator(`.node-group[data-node="${node}"] .log-file`, { hasText: "tracing.jsonl" }).waitFor();
  }
  await page.locator('.node-group[data-node="client"] .log-file', { hasText: "tracing.jsonl" }).click();
  const entry = page.locator(".log-entry", { hasText: "s1{z=3}:s2{y=2}: foo: x=1" });
  await entry.waitFor();
  assert.match(await entry.locator(".log-ts").textContent(), /^\d\d:\d\d:\d\d\.\d{6}$/);
  assert.equal(await entry.locator(".log-level").textContent(), "INFO");
  assert.equal(await entry.locator(".log-target").textContent(), "foo:");
  await screenshot(page, "e2e-logs");
});

test("timeline shows both event kinds; TcpEchoStarted jumps to the server's log entry", async () => {
  await page.locator(".tab-btn", { hasText: "timeline" }).click();
  await page.locator(".timeline-event-cell", { hasText: "TcpRoundtripComplete" }).waitFor();
  await page.locator(".timeline-event-cell", { hasText: "TcpEchoStarted" }).click();
  await page.locator(".timeline-detail", { hasText: "addr" }).waitFor();
  await page.getByRole("button", { name: "jump to logs" }).click();
  await page.locator(".jump-info", { hasText: "jump:" }).waitFor();
  const hit = page.locator(".log-entry.jump-hit");
  await hit.waitFor();
  assert.match(await hit.textContent(), /TcpEchoStarted/);
  assert.match(await page.locator(".viewer-title").textContent(), /^device\.server\./);
  await screenshot(page, "e2e-jump");
});

// The page's reducer (SPEC 13.3) replays the library's events.jsonl into the library's own
// state.json (apart from the writer's "stopped", which is no event).
test("the UI reducer reproduces the library's state.json from events.jsonl", async () => {
  const require = createRequire(join(SOURCE_DIR, "ui/package.json"));
  const { build } = require("esbuild");
  const out = await build({ entryPoints: [join(SOURCE_DIR, "ui/src/reducer.ts")], bundle: true, format: "esm", write: false });
  const { applyEvent, emptyState } = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);
  const state = emptyState();
  const lines = readFileSync(join(runDir, "events.jsonl"), "utf8").split("\n").filter(Boolean);
  for (const l of lines) applyEvent(state, JSON.parse(l));
  const expected = JSON.parse(readFileSync(join(runDir, "state.json"), "utf8"));
  assert.equal(expected.status, "stopped");
  assert.deepEqual({ ...state, status: "stopped" }, expected);
  assert.deepEqual(browser.errors, []);
});
