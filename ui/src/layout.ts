// The topology layout: a layered, top-to-bottom tidy tree (IX -> routers -> sub-routers ->
// devices), hand-written because the lab is a tree plus a few extra edges (multi-homed devices,
// region links) and a tree layout can guarantee by construction that no two boxes or labels
// overlap. Pure: text widths come from a `measure` callback (canvas in the browser, an estimate
// in the unit tests), so the same code is tested in node and drawn in the page.
//
// Rules that keep labels apart:
// - sibling subtrees get disjoint x ranges, layers disjoint y ranges with a gap for edge labels;
// - an interface label sits on its edge just above the device it enters, and a device is at least
//   as wide as the labels entering it, so labels of neighbours cannot touch;
// - a router with many devices lists them in a "stack" (columns under a bus line, each device
//   hanging off a trunk with its interface label on the branch), which keeps wide labs narrower.

import type { LabState } from "./reducer";
import { conditionSummary } from "./format";
import {
  type Box,
  deviceNode,
  type Font,
  type Iface,
  ifaceLabel,
  ifacesOf,
  isObj,
  ixNode,
  labelW,
  type LayoutNode,
  type Measure,
  metrics,
  primaryRouter,
  routerNode,
  s,
} from "./layout_nodes";

export { type Box, type Font, type LayoutNode, type Measure, metrics };

export interface EdgeLabel extends Box {
  text: string;
}

export interface LayoutEdge {
  id: string;
  kind: "uplink" | "iface" | "region";
  from: string;
  to: string;
  d: string; // SVG path
  label: EdgeLabel | null;
  down: boolean; // interface administratively down
  conditioned: boolean;
  secondary: boolean; // a device interface to a router other than the one it is drawn under
  broken: boolean; // region links
  title: string; // tooltip
}

export interface Layout {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  width: number;
  height: number;
}

type Item =
  | { kind: "node"; node: LayoutNode; children: Item[]; width: number; depth: number; x: number; stackOnly?: boolean }
  | { kind: "stack"; router: LayoutNode; devices: LayoutNode[]; width: number; depth: number; x: number; h: number };

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function layoutLab(st: LabState, m: Measure): Layout {
  const routerNames = Object.keys(st.routers).sort(byName);
  const deviceNames = Object.keys(st.devices).sort(byName);
  const nodes = new Map<string, LayoutNode>();
  const ix = ixNode(st, m);
  nodes.set(ix.id, ix);
  for (const r of routerNames) nodes.set(`r:${r}`, routerNode(r, st.routers[r], m));

  // Parent links.
  const childRouters = new Map<string, string[]>(); // parent id -> router names
  for (const r of routerNames) {
    const up = s(st.routers[r].upstream);
    const parent = up !== null && up !== r && st.routers[up] ? `r:${up}` : "ix";
    if (!childRouters.has(parent)) childRouters.set(parent, []);
    childRouters.get(parent)!.push(r);
  }
  breakCycles(childRouters, routerNames);
  const childDevices = new Map<string, string[]>();
  const ifaceMap = new Map<string, Iface[]>();
  for (const d of deviceNames) {
    const ifs = ifacesOf(st.devices[d]);
    ifaceMap.set(d, ifs);
    const primary = primaryRouter(st.devices[d], ifs, st.routers);
    const parent = primary !== null ? `r:${primary}` : "ix";
    if (!childDevices.has(parent)) childDevices.set(parent, []);
    childDevices.get(parent)!.push(d);
  }
  // Top-level routers cluster by region, the region's own router first.
  const top = childRouters.get("ix");
  if (top) {
    const key = (r: string) => {
      const region = s(st.routers[r].region);
      return [region ?? "\uffff", r === `region_${region}` ? "0" : "1", r].join("\u0000");
    };
    top.sort((a, b) => byName(key(a), key(b)));
  }

  // Device nodes, widened so every interface label entering from above fits on top of them.
  for (const d of deviceNames) {
    const n = deviceNode(d, st.devices[d], m);
    nodes.set(n.id, n);
  }

  const build = (id: string, depth: number, seen: Set<string>): Item => {
    const node = nodes.get(id)!;
    seen.add(id);
    const children: Item[] = [];
    const devs = childDevices.get(id) ?? [];
    const devNodes = devs.map((d) => nodes.get(`d:${d}`)!);
    if (node.kind === "router" && devNodes.length >= metrics.stackThreshold) {
      children.push(stackItem(node, devNodes, depth + 1, ifaceMap, m));
    } else {
      for (const dn of devNodes) {
        const entering = (ifaceMap.get(dn.name) ?? []).filter((i) => i.router !== null && st.routers[i.router]);
        const need = entering.reduce((w, i) => w + labelW(ifaceLabel(i), m), 0) + metrics.badgeGap * Math.max(0, entering.length - 1);
        dn.w = Math.max(dn.w, need + 8);
        children.push({ kind: "node", node: dn, children: [], width: dn.w, depth: depth + 1, x: 0 });
      }
    }
    for (const r of childRouters.get(id) ?? []) if (!seen.has(`r:${r}`)) children.push(build(`r:${r}`, depth + 1, seen));
    // Only a stack below: the router sits at its left so the trunk drops straight from it.
    if (children.length === 1 && children[0].kind === "stack") {
      const shift = metrics.stackDrop - metrics.stackTrunk;
      return { kind: "node", node, children, width: Math.max(node.w, shift + children[0].width), depth, x: 0, stackOnly: true };
    }
    const childW = children.reduce((w, c) => w + c.width, 0) + metrics.hGap * Math.max(0, children.length - 1);
    return { kind: "node", node, children, width: Math.max(node.w, childW), depth, x: 0 };
  };
  const root = build("ix", 0, new Set());

  // Layer heights come from the IX and routers only: devices hang below their own router, in an
  // x range no other subtree uses, so a tall stack of devices need not push the next layer down.
  const layerH: number[] = [];
  let maxDepth = 0;
  const visit = (it: Item) => {
    maxDepth = Math.max(maxDepth, it.depth);
    const h = it.kind === "node" && it.node.kind !== "device" ? it.node.h : 0;
    layerH[it.depth] = Math.max(layerH[it.depth] ?? 0, h);
    if (it.kind === "node") it.children.forEach(visit);
  };
  visit(root);
  const layerY: number[] = [];
  let y = metrics.margin;
  for (let d = 0; d <= maxDepth; d++) {
    layerY[d] = y;
    y += (layerH[d] ?? 0) + metrics.vGap;
  }

  const edges: LayoutEdge[] = [];
  const place = (it: Item, x0: number) => {
    it.x = x0;
    if (it.kind === "stack") {
      placeStack(it, x0, layerY[it.depth], ifaceMap, m, edges);
      return;
    }
    const n = it.node;
    n.y = layerY[it.depth];
    if (it.stackOnly) {
      n.x = x0;
      place(it.children[0], x0 + metrics.stackDrop - metrics.stackTrunk);
      return;
    }
    n.x = x0 + (it.width - n.w) / 2;
    const childW = it.children.reduce((w, c) => w + c.width, 0) + metrics.hGap * Math.max(0, it.children.length - 1);
    let cx = x0 + (it.width - childW) / 2;
    for (const c of it.children) {
      place(c, cx);
      cx += c.width + metrics.hGap;
    }
  };
  place(root, metrics.margin);
  const width = root.width + 2 * metrics.margin;
  const height = Math.max(...[...nodes.values()].map((n) => n.y + n.h)) + metrics.margin;

  addUplinks(st, nodes, routerNames, edges);
  addRowIfaceEdges(st, nodes, ifaceMap, m, edges);
  addRegionLinks(st, nodes, edges);
  return { nodes: [...nodes.values()], edges, width, height };
}

// An upstream chain that loops back (never produced by the lab, possible in a hand-edited file)
// would recurse forever: such routers hang off the IX instead.
function breakCycles(childRouters: Map<string, string[]>, routers: string[]): void {
  const reachable = new Set<string>();
  const walk = (id: string) => {
    for (const r of childRouters.get(id) ?? []) {
      if (reachable.has(r)) continue;
      reachable.add(r);
      walk(`r:${r}`);
    }
  };
  walk("ix");
  for (const r of routers) {
    if (reachable.has(r)) continue;
    for (const list of childRouters.values()) {
      const i = list.indexOf(r);
      if (i >= 0) list.splice(i, 1);
    }
    if (!childRouters.has("ix")) childRouters.set("ix", []);
    childRouters.get("ix")!.push(r);
    reachable.add(r);
    walk(`r:${r}`);
  }
}

function stackItem(router: LayoutNode, devices: LayoutNode[], depth: number, ifaceMap: Map<string, Iface[]>, m: Measure): Item {
  const cols = Math.ceil(devices.length / metrics.stackMaxRows);
  const rows = Math.ceil(devices.length / cols);
  let width = 0;
  let h = 0;
  for (let c = 0; c < cols; c++) {
    const col = devices.slice(c * rows, (c + 1) * rows);
    const geo = columnGeometry(router, col, ifaceMap, m);
    width += geo.width + (c > 0 ? metrics.stackColGap : 0);
    h = Math.max(h, col.reduce((a, d) => a + d.h, 0) + metrics.stackRowGap * (col.length - 1));
  }
  return { kind: "stack", router, devices, width, depth, x: 0, h };
}

// Branch length (fits the widest primary label), device width and the labels of extra interfaces.
function columnGeometry(router: LayoutNode, col: LayoutNode[], ifaceMap: Map<string, Iface[]>, m: Measure) {
  let primaryW = 0;
  let devW = 0;
  let extraW = 0;
  for (const d of col) {
    const ifs = ifaceMap.get(d.name) ?? [];
    const prim = ifs.filter((i) => i.router === router.name);
    const other = ifs.filter((i) => i.router !== router.name && i.router !== null);
    primaryW = Math.max(primaryW, prim.reduce((w, i) => w + labelW(ifaceLabel(i), m) + metrics.badgeGap, 0));
    devW = Math.max(devW, d.w);
    extraW = Math.max(extraW, other.reduce((w, i) => w + labelW(ifaceLabel(i), m) + metrics.badgeGap, 0));
  }
  const branch = metrics.stackTrunk + 12 + primaryW + 10;
  return { branch, devW, width: branch + devW + (extraW ? extraW + 8 : 0) };
}

function placeStack(
  it: Extract<Item, { kind: "stack" }>,
  x0: number,
  y0: number,
  ifaceMap: Map<string, Iface[]>,
  m: Measure,
  edges: LayoutEdge[],
): void {
  const { router, devices } = it;
  const cols = Math.ceil(devices.length / metrics.stackMaxRows);
  const rows = Math.ceil(devices.length / cols);
  // The trunk leaves the router where the first column's trunk is, when it is right below it.
  const firstTrunk = x0 + metrics.stackTrunk;
  const rcx = firstTrunk >= router.x && firstTrunk <= router.x + router.w / 2 ? firstTrunk : router.x + router.w / 2;
  const busY = y0 - 18;
  let parts = `M${rcx},${router.y + router.h} V${busY}`;
  let x = x0;
  const trunks: number[] = [];
  for (let c = 0; c < cols; c++) {
    const col = devices.slice(c * rows, (c + 1) * rows);
    const geo = columnGeometry(router, col, ifaceMap, m);
    const trunkX = x + metrics.stackTrunk;
    trunks.push(trunkX);
    let y = y0;
    let lastMid = y0;
    for (const d of col) {
      d.x = x + geo.branch;
      d.y = y;
      d.w = geo.devW;
      const mid = y + d.h / 2;
      lastMid = mid;
      const ifs = ifaceMap.get(d.name) ?? [];
      // Interfaces to this router: labels side by side on the branch, right-aligned to the device.
      let lx = d.x - 6;
      for (const i of ifs.filter((f) => f.router === router.name).reverse()) {
        const text = ifaceLabel(i);
        const w = labelW(text, m);
        lx -= w;
        edges.push(ifaceEdge(router.name, d.name, i, `M${trunkX},${mid} H${d.x}`, { text, x: lx, y: mid - metrics.labelH / 2, w, h: metrics.labelH }));
        lx -= metrics.badgeGap;
      }
      y += d.h + metrics.stackRowGap;
    }
    parts += ` M${trunkX},${busY} V${lastMid}`;
    x += geo.width + metrics.stackColGap;
  }
  const xs = [rcx, ...trunks];
  if (xs.some((x) => x !== rcx)) parts += ` M${Math.min(...xs)},${busY} H${Math.max(...xs)}`;
  edges.push({ id: `bus:${router.name}`, kind: "iface", from: router.id, to: router.id, d: parts, label: null, down: false, conditioned: false, secondary: false, broken: false, title: `${router.name}: ${devices.length} devices` });
}

function ifaceEdge(router: string, device: string, i: Iface, d: string, label: EdgeLabel | null, secondary = false): LayoutEdge {
  const cond = [i.condition, i.conditionDown].some((c) => c !== null && c !== undefined && c !== "lan");
  return {
    id: `if:${device}:${i.name}`,
    kind: "iface",
    from: `r:${router}`,
    to: `d:${device}`,
    d,
    label,
    down: !i.up,
    conditioned: cond,
    secondary,
    broken: false,
    title: `${device} ${i.name} → ${router}${i.ip ? ` (${i.ip})` : ""}; up: ${conditionSummary(i.condition)}, down: ${conditionSummary(i.conditionDown)}${i.up ? "" : "; link down"}`,
  };
}

function curve(x1: number, y1: number, x2: number, y2: number): string {
  const my = (y1 + y2) / 2;
  return `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}`;
}

function addUplinks(st: LabState, nodes: Map<string, LayoutNode>, routers: string[], edges: LayoutEdge[]): void {
  for (const r of routers) {
    const child = nodes.get(`r:${r}`)!;
    const up = s(st.routers[r].upstream);
    const parent = (up !== null && nodes.get(`r:${up}`)) || nodes.get("ix")!;
    // A parent drawn below its child only happens after breakCycles re-hung a looping chain.
    if (parent.y >= child.y) continue;
    const cond = st.routers[r].uplink_condition;
    const upC = isObj(cond) ? cond.up : null;
    const downC = isObj(cond) ? cond.down : null;
    edges.push({
      id: `up:${r}`,
      kind: "uplink",
      from: parent.id,
      to: child.id,
      d: curve(parent.x + parent.w / 2, parent.y + parent.h, child.x + child.w / 2, child.y),
      label: null,
      down: false,
      conditioned: (upC ?? null) !== null || (downC ?? null) !== null,
      secondary: false,
      broken: false,
      title: `${parent.name} → ${r}; uplink up: ${conditionSummary(upC ?? null)}, down: ${conditionSummary(downC ?? null)}`,
    });
  }
}

// Interface edges of devices laid out in rows: each enters the top of the device at its own
// point, with its label on the edge right above the device.
function addRowIfaceEdges(st: LabState, nodes: Map<string, LayoutNode>, ifaceMap: Map<string, Iface[]>, m: Measure, edges: LayoutEdge[]): void {
  const inStack = new Set(edges.filter((e) => e.kind === "iface").map((e) => e.to));
  const drawn = new Set(edges.map((e) => e.id));
  for (const [name, ifs] of ifaceMap) {
    const dev = nodes.get(`d:${name}`)!;
    const entering = ifs.filter((i) => i.router !== null && st.routers[i.router]);
    if (inStack.has(dev.id)) {
      // Stacked device: interfaces to other routers enter from the right.
      let lx = dev.x + dev.w + 6;
      for (const i of entering) {
        if (drawn.has(`if:${name}:${i.name}`)) continue;
        const r = nodes.get(`r:${i.router}`)!;
        const text = ifaceLabel(i);
        const w = labelW(text, m);
        const y = dev.y + dev.h / 2;
        const d = `M${r.x + r.w / 2},${r.y + r.h} C${r.x + r.w / 2},${y} ${dev.x + dev.w + 60},${y} ${dev.x + dev.w},${y}`;
        edges.push(ifaceEdge(i.router!, name, i, d, { text, x: lx, y: y - metrics.labelH / 2, w, h: metrics.labelH }, true));
        lx += w + metrics.badgeGap;
      }
      continue;
    }
    const primary = primaryRouter(st.devices[name], ifs, st.routers);
    const widths = entering.map((i) => labelW(ifaceLabel(i), m));
    const total = widths.reduce((a, b) => a + b, 0) + metrics.badgeGap * Math.max(0, entering.length - 1);
    let lx = dev.x + (dev.w - total) / 2;
    entering.forEach((i, k) => {
      const r = nodes.get(`r:${i.router}`)!;
      const w = widths[k];
      const ex = lx + w / 2;
      const label = { text: ifaceLabel(i), x: lx, y: dev.y - metrics.labelH - 6, w, h: metrics.labelH };
      edges.push(ifaceEdge(i.router!, name, i, curve(r.x + r.w / 2, r.y + r.h, ex, dev.y), label, i.router !== primary));
      lx += w + metrics.badgeGap;
    });
  }
}

function addRegionLinks(st: LabState, nodes: Map<string, LayoutNode>, edges: LayoutEdge[]): void {
  st.region_links.forEach((l, k) => {
    if (typeof l !== "object" || l === null || Array.isArray(l)) return;
    const a = nodes.get(`r:${s(l.a)}`);
    const b = nodes.get(`r:${s(l.b)}`);
    if (!a || !b) return;
    const [p, q] = a.x <= b.x ? [a, b] : [b, a];
    const x1 = p.x + p.w * 0.75;
    const x2 = q.x + q.w * 0.25;
    const y1 = p.y;
    const y2 = q.y;
    const lift = 30 + Math.min(60, Math.abs(x2 - x1) * 0.12);
    const broken = l.broken === true;
    edges.push({
      id: `region:${k}`,
      kind: "region",
      from: a.id,
      to: b.id,
      d: `M${x1},${y1} C${x1},${y1 - lift} ${x2},${y2 - lift} ${x2},${y2}`,
      label: null,
      down: false,
      conditioned: l.condition !== null && l.condition !== undefined,
      secondary: false,
      broken,
      title: `region link ${s(l.a)} ↔ ${s(l.b)}: ${broken ? "broken" : conditionSummary(l.condition ?? null)}`,
    });
  });
}
