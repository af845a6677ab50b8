// SPEC 17.17 items 153-155: one `patchbay run` invocation of two sims (a ping sim whose sender
// has 100 ms of latency, and an iperf3 sim), its work dir served by `patchbay serve`.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { env, launchBrowser, run, screenshot, startServer, tempDir } from "./driver.mjs";

const PING_SIM = `
[sim]
name = "ping-e2e"

[[router]]
name = "dc"

[device.sender.eth0]
gateway = "dc"
impair = { latency_ms = 100 }

[device.receiver.eth0]
gateway = "dc"

[[step]]
action = "capture"
device = "sender"
filter = "icmp"

[[step]]
action = "run"
id = "ping-check"
device = "sender"
cmd = ["ping", "-c", "3", "-i", "0.2", "$NETSIM_IP_receiver"]
captures.avg = { regex = "rtt min/avg/max/mdev = [0-9.]+/([0-9.]+)/" }
results = { latency_ms = ".avg" }
`;

const IPERF_SIM = `
[sim]
name = "iperf-e2e"

[[router]]
name = "dc"

[device.server.eth0]
gateway = "dc"

[device.client.eth0]
gateway = "dc"

[[step]]
action = "spawn"
id = "iperf-server"
device = "server"
cmd = ["iperf3", "-s", "-p", "5201", "-1"]
ready_after = "500ms"

[[step]]
action = "run"
id = "iperf-client"
device = "client"
cmd = ["iperf3", "-c", "$NETSIM_IP_server", "-p", "5201", "-t", "1", "-J"]
parser = "json"
captures.bytes = { pick = "end.sum_received.bytes" }
captures.seconds = { pick = "end.sum_received.seconds" }
results = { down_bytes = ".bytes", duration = ".seconds" }
`;

let tmp;
let server;
let browser;
let page;
let invocation;

before(async () => {
  tmp = tempDir("sims");
  writeFileSync(join(tmp.dir, "ping-e2e.toml"), PING_SIM);
  writeFileSync(join(tmp.dir, "iperf-e2e.toml"), IPERF_SIM);
  const work = join(tmp.dir, "work");
  await run(env("PATCHBAY_CLI"), ["run", "--work-dir", work, "ping-e2e.toml", "iperf-e2e.toml"], { cwd: tmp.dir });
  server = await startServer(work);
  const runs = await (await fetch(`${server.url}/api/runs`)).json();
  invocation = runs[0].invocation;
  assert.deepEqual(runs.map((r) => r.name).sort(), [`${invocation}/iperf-e2e`, `${invocation}/ping-e2e`]);
  browser = await launchBrowser();
  page = await browser.page();
  await page.goto(`${server.url}/`);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp?.cleanup();
});

async function choose(label) {
  const value = await page.locator("select.run-select option", { hasText: label }).getAttribute("value");
  await page.locator("select.run-select").selectOption(value);
}

test("the selector groups both sims of the invocation and offers the combined view", async () => {
  const group = page.locator(`select.run-select optgroup[label="${invocation}"]`);
  await group.waitFor({ state: "attached" });
  const options = await group.locator("option").allTextContents();
  assert.deepEqual(options.sort(), ["combined (2 sims)", "iperf-e2e", "ping-e2e"]);
});

test("ping sim: topology dc/sender/receiver, the events table, Perf with Latency (ms)", async () => {
  await choose("ping-e2e");
  await page.locator(".tab-btn", { hasText: "topology" }).click();
  for (const name of ["dc", "sender", "receiver"]) await page.locator(".node .node-title", { hasText: new RegExp(`^${name}$`) }).waitFor();
  // The sender's 100 ms shows on its interface edge.
  await page.locator('.edge-label.conditioned[data-edge="if:sender:eth0"]', { hasText: "100 ms" }).waitFor();
  await screenshot(page, "sims-ping-topology");

  await page.locator(".tab-btn", { hasText: "logs" }).click();
  await page.locator(".log-file", { hasText: "events.jsonl" }).first().click();
  await page.locator(".event-row", { hasText: "router_added" }).first().waitFor();
  await page.locator(".event-row", { hasText: "device_added" }).first().waitFor();

  await page.locator(".tab-btn", { hasText: "perf" }).click();
  const table = page.locator(".perf-table");
  await table.locator("td", { hasText: "ping-check" }).waitFor();
  assert.deepEqual(await table.locator("th").allTextContents(), ["ID", "Latency (ms)"]);
  const latency = Number(await table.locator("tbody td.num").first().textContent());
  assert.ok(latency >= 95, `the round trip crosses the 100 ms uplink once, got ${latency}`);
  await screenshot(page, "sims-ping-perf");
});

test("ping sim: the packet capture is listed with a download link and opens a capture panel", async () => {
  await choose("ping-e2e");
  await page.locator(".tab-btn", { hasText: "logs" }).click();
  const row = page.locator(".log-file-row", { hasText: "eth0.pcapng" });
  await row.waitFor();
  const link = row.locator("a.log-file-download");
  assert.equal(await link.getAttribute("download"), "device.sender.eth0.pcapng");
  const bytes = new Uint8Array(await (await fetch(new URL(await link.getAttribute("href"), server.url))).arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 4)], [0x0a, 0x0d, 0x0d, 0x0a], "a pcapng section header block");
  assert.ok(bytes.length > 500, `three pings and their replies, got ${bytes.length} bytes`);
  await row.locator(".log-file").click();
  await page.locator(".capture-panel", { hasText: "pcapng" }).waitFor();
  await page.locator(".viewer-head a", { hasText: "download" }).waitFor();
  assert.equal(await page.locator(".capture-panel a.capture-download").getAttribute("download"), "device.sender.eth0.pcapng");
  await screenshot(page, "sims-ping-capture");
});

test("iperf sim: Perf shows iperf-client with Down MB/s", async () => {
  await choose("iperf-e2e");
  await page.locator(".tab-btn", { hasText: "perf" }).click();
  const table = page.locator(".perf-table");
  await table.locator("td", { hasText: "iperf-client" }).waitFor();
  const headers = await table.locator("th").allTextContents();
  assert.deepEqual(headers, ["ID", "Down MB/s", "Elapsed (s)", "Down Bytes"]);
  assert.ok(Number(await table.locator("tbody td.num").first().textContent()) > 0);
});

test("combined view: summary and all steps name both sims and link to them", async () => {
  await choose("combined (2 sims)");
  await page.locator(".perf h2", { hasText: "summary" }).waitFor();
  await page.locator(".perf h2", { hasText: "all steps" }).waitFor();
  const summary = await page.locator(".summary-table tbody tr td:first-child").allTextContents();
  assert.deepEqual(summary, ["iperf-e2e", "ping-e2e"]);
  const links = page.locator(".perf a.sim-link");
  assert.deepEqual((await links.allTextContents()).sort(), ["iperf-e2e", "ping-e2e"]);
  await screenshot(page, "sims-combined-perf");
  await links.filter({ hasText: "ping-e2e" }).click();
  await page.locator(".perf-table td", { hasText: "ping-check" }).waitFor();
  assert.match(await page.locator("select.run-select").inputValue(), /ping-e2e$/);
  assert.deepEqual(browser.errors, []);
});
