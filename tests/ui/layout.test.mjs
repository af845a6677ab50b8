// The drawn topology of a generated 20-router / 60-device lab: no two label boxes overlap (and
// every node's text stays in its box) at both supported window sizes, and the graph follows new
// events live over SSE (the reducer applied in the page).
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchBrowser, overlappingLabels, screenshot, SOURCE_DIR, startServer, tempDir } from "./driver.mjs";

const { generateLab, writeRun } = await import(join(SOURCE_DIR, "ui/dev/labgen.mjs"));

let tmp;
let server;
let browser;
let page;
let lab;

before(async () => {
  tmp = tempDir("layout");
  lab = generateLab({ routers: 20, devices: 60, label: "layout-20x60" });
  lab.state.status = "running";
  writeRun(tmp.dir, lab);
  server = await startServer(tmp.dir);
  browser = await launchBrowser();
  page = await browser.page();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp?.cleanup();
});

for (const [width, height] of [
  [1600, 1000],
  [1366, 768],
]) {
  test(`no overlapping labels at ${width}x${height}, fitted and at the first view`, async () => {
    await page.setViewportSize({ width, height });
    await page.goto("about:blank"); // a fresh page load, not a same-document hash change
    await page.goto(`${server.url}/#tab=topology`);
    await page.locator('.topo-svg[data-nodes="81"]').waitFor();
    const first = await overlappingLabels(page);
    assert.ok(first.count > 300, `measured ${first.count} boxes`);
    assert.deepEqual(first.bad, []);
    await screenshot(page, `layout-20x60-${width}x${height}`);
    await page.locator(".topo-toolbar button", { hasText: "fit" }).click();
    const fitted = await overlappingLabels(page);
    assert.deepEqual(fitted.bad, []);
    await screenshot(page, `layout-20x60-fit-${width}x${height}`);
    // Positive control: the check does see an overlap when one is made.
    await page.evaluate(() => {
      const dc = document.querySelector('.node[data-id="r:dc"]');
      dc.setAttribute("transform", document.querySelector('.node[data-id="r:isp1"]').getAttribute("transform"));
    });
    assert.ok((await overlappingLabels(page)).bad.some((b) => b.includes("r:dc") && b.includes("r:isp1")));
  });
}

test("new events update the drawing live: a router and a device appear, opid follows", async () => {
  await page.goto("about:blank");
  await page.goto(`${server.url}/#tab=topology`);
  await page.locator('.topo-svg[data-nodes="81"]').waitFor();
  const last = lab.events[lab.events.length - 1];
  const ts = new Date().toISOString().replace("Z", "000000Z");
  const router = { ...lab.state.routers.home01, name: "late-router", upstream: "isp1", devices: [], counters: {} };
  const device = { name: "late-device", ns: "x", default_via: "eth0", mtu: null, counters: {}, interfaces: [{ name: "eth0", router: "late-router", ip: "10.99.0.2", ip_v6: null, ll_v6: null, link_condition: null, link_condition_down: null, is_up: true }] };
  const lines = [
    { opid: last.opid + 1, timestamp: ts, kind: "router_added", ...router },
    { opid: last.opid + 2, timestamp: ts, kind: "device_added", ...device },
    { opid: last.opid + 3, timestamp: ts, kind: "nat_changed", router: "late-router", nat: "full-cone" },
  ];
  appendFileSync(join(tmp.dir, "events.jsonl"), lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  await page.locator('.topo-svg[data-nodes="83"]').waitFor();
  await page.locator('.node[data-id="r:late-router"] .badge-nat', { hasText: "nat:full-cone" }).waitFor();
  await page.locator('.node[data-id="d:late-device"]').waitFor();
  await page.locator(".run-opid", { hasText: `opid ${last.opid + 3}` }).waitFor();
  assert.deepEqual((await overlappingLabels(page)).bad, []);

  // Counters change no drawing but show in the open detail panel.
  await page.locator(".topo-toolbar button", { hasText: "fit" }).click();
  await page.locator('.node[data-id="d:late-device"]').click();
  await page.locator(".detail-panel", { hasText: "no counters yet" }).waitFor();
  const counters = { opid: last.opid + 4, timestamp: ts, kind: "packet_counters", node: "late-device", counters: [{ iface: "eth0", rx_bytes: 2048, tx_bytes: 1024, rx_packets: 7, tx_packets: 5 }] };
  appendFileSync(join(tmp.dir, "events.jsonl"), JSON.stringify(counters) + "\n");
  const row = page.locator(".detail-panel table.counters tbody tr");
  await row.waitFor();
  assert.deepEqual(await row.locator("td").allTextContents(), ["eth0", "2.0 KiB", "1.0 KiB", "7", "5"]);
  assert.deepEqual(browser.errors, []);
});
