// Review item 1: the Timeline of a 1,000-device run with 20,000 events renders and scrolls to the
// end without freezing the page, keeps the DOM small (only the rows in view exist), and stops
// polling while hidden and, for a stopped run, once every file was read to its end.
// Prints the times; asserts only bounds no loaded 2-core machine gets near.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchBrowser, SOURCE_DIR, startServer, tempDir } from "./driver.mjs";

const { generateLab, writeRun } = await import(join(SOURCE_DIR, "ui/dev/labgen.mjs"));

const DEVICES = 1000;
const PER_DEVICE = 20;
let tmp;
let server;
let browser;
let page;
let total = 0;
const requests = [];

before(async () => {
  tmp = tempDir("tlscale");
  const lab = generateLab({ routers: 40, devices: DEVICES, label: "timeline-scale" });
  writeRun(tmp.dir, lab);
  // The Timeline reads the last 256 KiB of each file (SPEC 14.2): count the lab events in it.
  const labText = readFileSync(join(tmp.dir, "events.jsonl"), "utf8");
  const window = labText.slice(Math.max(0, labText.length - 256 * 1024 - 1));
  total = (labText.length > window.length ? window.slice(window.indexOf("\n") + 1) : window).split("\n").filter(Boolean).length;
  const t0 = Date.UTC(2026, 2, 5, 12, 0, 0) * 1000;
  const ts = (us) => `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 19)}.${String(us % 1_000_000).padStart(6, "0")}Z`;
  const names = Object.keys(lab.state.devices);
  assert.equal(names.length, DEVICES);
  for (const name of names) {
    const lines = [];
    for (let i = 0; i < PER_DEVICE; i++) {
      const last = name === names[DEVICES - 1] && i === PER_DEVICE - 1;
      lines.push(JSON.stringify({ timestamp: ts(t0 + 10_000_000 + i * 1_000_000 + (name.length * 7919) % 900_000 + (last ? 1e9 : 0)), kind: last ? "VeryLastEvent" : `Step${i % 5}`, step: i, device: name }));
    }
    writeFileSync(join(tmp.dir, `device.${name}.events.jsonl`), lines.join("\n") + "\n");
    total += PER_DEVICE;
  }
  server = await startServer(tmp.dir);
  browser = await launchBrowser();
  page = await browser.page();
  page.on("request", (r) => requests.push({ url: r.url(), at: Date.now() }));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp?.cleanup();
});

const fileRequests = () => requests.filter((r) => /\/(files|logs)\/device\./.test(r.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("1,000 nodes and 20,000 events: first render, full load and scroll to the end", async () => {
  assert.ok(total >= 20_000, `${total} events to show`);
  await page.goto(`${server.url}/`);
  const start = Date.now();
  await page.locator(".tab-btn", { hasText: "timeline" }).click();
  await page.locator(".timeline-event-cell").first().waitFor({ timeout: 60_000 });
  const firstRender = Date.now() - start;
  // The Timeline keeps the newest MAX_EVENTS (20,000); the generated lab has no packet_counters.
  // Every file loaded: a column per node (time, _lab, the devices) and the newest 20,000 events.
  await page.locator(".timeline-table thead th").nth(DEVICES + 1).waitFor({ timeout: 240_000 });
  await page.locator(".timeline .count", { hasText: `${Math.min(total, 20_000)} events` }).waitFor({ timeout: 60_000 });
  const fullLoad = Date.now() - start;
  assert.equal(await page.locator(".timeline-table thead th").count(), DEVICES + 2);
  const rows = await page.locator(".timeline-table tbody tr").count();
  assert.ok(rows > 0 && rows < 300, `only the rows in view exist, got ${rows}`);

  const scrollStart = Date.now();
  await page.locator(".timeline-scroll").evaluate((el) => (el.scrollTop = el.scrollHeight));
  await page.locator(".timeline-event-cell", { hasText: "VeryLastEvent" }).waitFor({ timeout: 60_000 });
  const scroll = Date.now() - scrollStart;
  // The page answers between frames: a round trip through its event loop.
  const pingStart = Date.now();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(1))));
  const ping = Date.now() - pingStart;
  const peak = fileRequests().length;
  console.log(`timeline scale: ${total} events, ${DEVICES} devices: first render ${firstRender} ms, all loaded ${fullLoad} ms, scroll to end ${scroll} ms, frame ${ping} ms, ${rows} rows in the DOM, ${peak} file requests so far`);
  assert.ok(firstRender < 10_000, `first render took ${firstRender} ms`);
  assert.ok(scroll < 10_000, `scrolling to the end took ${scroll} ms`);
  assert.ok(ping < 10_000, `a frame took ${ping} ms`);
});

test("no file is polled while the Timeline is hidden", async () => {
  await page.locator(".tab-btn", { hasText: "topology" }).click();
  await sleep(500); // a request already on the wire may still finish
  const before = fileRequests().length;
  await sleep(5000); // longer than the 4 s poll interval of a stopped run
  assert.equal(fileRequests().length - before, 0);
});

test("a stopped run's files are polled until they return nothing, then never again", async () => {
  await page.locator(".tab-btn", { hasText: "timeline" }).click();
  // Every tail polls once more (4 s interval, two requests at a time), finds no bytes and ends.
  let last = fileRequests().length;
  let quietSince = Date.now();
  const deadline = Date.now() + 180_000;
  while (Date.now() - quietSince < 6000) {
    assert.ok(Date.now() < deadline, "the tails kept polling");
    await sleep(500);
    const n = fileRequests().length;
    if (n !== last) {
      last = n;
      quietSince = Date.now();
    }
  }
  const perFile = new Map();
  for (const r of fileRequests()) {
    const path = new URL(r.url).pathname.replace(/^.*\/(files|logs)\//, "");
    perFile.set(path, (perFile.get(path) ?? 0) + 1);
  }
  assert.equal(perFile.size, DEVICES);
  // The first window, then polls until one found nothing: two requests per file here.
  const counts = [...perFile.values()];
  assert.ok(Math.max(...counts) <= 3, `most requests for one file: ${Math.max(...counts)}`);
});
