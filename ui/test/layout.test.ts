// The topology layout: the layering rules and, on generated labs up to 1,000 devices, that no
// two node boxes or edge labels overlap (the browser test repeats this on the drawn page).
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateLab } from "../dev/labgen.mjs";
import { type Box, layoutLab, type Measure } from "../src/layout";
import { stateFromJson } from "../src/reducer";

// Widths a little above DejaVu's, so the check is not kinder than the browser.
const PX: Record<string, number> = { title: 8, mono: 6.8, badge: 6.8, label: 6.6, ix: 8.2 };
const measure: Measure = (text, font) => text.length * PX[font];

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function boxesOf(routers: number, devices: number) {
  const { state } = generateLab({ routers, devices });
  const layout = layoutLab(stateFromJson(state), measure);
  const boxes: (Box & { what: string })[] = [
    ...layout.nodes.map((n) => ({ ...n, what: n.id })),
    ...layout.edges.filter((e) => e.label).map((e) => ({ ...e.label!, what: `label ${e.id}` })),
  ];
  return { layout, boxes, state };
}

for (const [routers, devices] of [[20, 60], [6, 8], [20, 1000], [3, 0]]) {
  test(`no two boxes overlap: ${routers} routers, ${devices} devices`, () => {
    const { boxes, layout } = boxesOf(routers, devices);
    assert.equal(layout.nodes.length, 1 + routers + devices);
    const bad: string[] = [];
    // Sweep by x so 1,000 devices stay fast.
    const sorted = [...boxes].sort((a, b) => a.x - b.x);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length && sorted[j].x < sorted[i].x + sorted[i].w; j++) {
        if (overlaps(sorted[i], sorted[j])) bad.push(`${sorted[i].what} / ${sorted[j].what}`);
      }
    }
    assert.deepEqual(bad, []);
    for (const b of boxes) {
      assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.w <= layout.width && b.y + b.h <= layout.height, `${b.what} inside the canvas`);
    }
  });
}

test("layers run top to bottom: IX, routers under their upstream, devices under their router", () => {
  const { layout, state } = boxesOf(20, 60);
  const node = (id: string) => layout.nodes.find((n) => n.id === id)!;
  const ix = node("ix");
  for (const [name, r] of Object.entries(state.routers) as [string, { upstream: string | null }][]) {
    const parent = r.upstream ? node(`r:${r.upstream}`) : ix;
    assert.ok(node(`r:${name}`).y > parent.y + parent.h, `${name} below ${parent.id}`);
  }
  for (const [name, d] of Object.entries(state.devices) as [string, { default_via: string; interfaces: { name: string; router: string }[] }][]) {
    const primary = d.interfaces.find((i) => i.name === d.default_via)!.router;
    const r = node(`r:${primary}`);
    assert.ok(node(`d:${name}`).y > r.y + r.h, `${name} below ${primary}`);
  }
});

test("node contents: IX gateway, router region and badges, device IPv4s", () => {
  const { layout } = boxesOf(20, 60);
  const node = (id: string) => layout.nodes.find((n) => n.id === id)!;
  assert.equal(node("ix").title, "IX (198.18.0.1)");
  assert.equal(node("r:dc").region, "eu");
  assert.deepEqual(node("r:home01").badges, ["nat:home", "fw:block_inbound"]);
  assert.deepEqual(node("r:home05").badges, ["nat:corporate", "fw:corporate"]);
  assert.deepEqual(node("r:dc").badges, []);
  assert.deepEqual(node("d:server01").lines, ["10.3.0.2"]);
});

test("edges: one uplink per router, one per device interface with its name, region links", () => {
  const { layout, state } = boxesOf(20, 60);
  const uplinks = layout.edges.filter((e) => e.kind === "uplink");
  assert.equal(uplinks.length, 20);
  assert.ok(uplinks.some((e) => e.from === "ix" && e.to === "r:dc"));
  assert.ok(uplinks.some((e) => e.from === "r:isp1" && e.to === "r:home01"));
  const ifaceEdges = layout.edges.filter((e) => e.kind === "iface" && e.id.startsWith("if:"));
  const ifaceCount = Object.values(state.devices).reduce((n: number, d) => n + (d as { interfaces: unknown[] }).interfaces.length, 0);
  assert.equal(ifaceEdges.length, ifaceCount);
  const wifi = ifaceEdges.find((e) => e.to === "d:phone002")!;
  assert.equal(wifi.label?.text, "wlan0 · wifi");
  assert.equal(wifi.conditioned, true);
  const region = layout.edges.filter((e) => e.kind === "region");
  assert.equal(region.length, 1);
  assert.equal(region[0].broken, true);
});

test("a router with many devices lists them in a stack narrower than a row", () => {
  const { layout, state } = boxesOf(20, 1000);
  const mine = Object.entries(state.devices)
    .filter(([, d]) => (d as { interfaces: { router: string }[] }).interfaces[0].router === "home01")
    .map(([name]) => `d:${name}`);
  const devs = layout.nodes.filter((n) => mine.includes(n.id));
  assert.ok(devs.length > 50);
  const xs = new Set(devs.map((d) => Math.round(d.x)));
  assert.ok(xs.size <= Math.ceil(devs.length / 12) + 1, `${xs.size} columns`);
});

test("an upstream loop in a hand-edited state does not hang the layout", () => {
  const { state } = generateLab({ routers: 6, devices: 2 });
  state.routers.isp1.upstream = "home01";
  state.routers.home01.upstream = "isp1";
  const layout = layoutLab(stateFromJson(state), measure);
  assert.equal(layout.nodes.length, 1 + 6 + 2);
});
