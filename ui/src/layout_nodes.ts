// Node boxes of the topology layout: what each box shows (IX gateway, router name, region,
// subnet and badges, device IPv4s), its size from measured text, and the interface labels. Split
// from layout.ts, which places the boxes.

import type { Json, JsonObject, LabState } from "./reducer";
import { conditionSummary, modeName } from "./format";

export type Font = "title" | "mono" | "badge" | "label" | "ix";
export type Measure = (text: string, font: Font) => number;

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LayoutNode extends Box {
  id: string; // "ix", "r:<name>", "d:<name>"
  kind: "ix" | "router" | "device";
  name: string;
  title: string;
  region: string | null; // routers: shown as " [region]" after the name
  lines: string[]; // monospace lines below the title
  badges: string[];
}

export const metrics = {
  padX: 12,
  padY: 8,
  titleH: 18,
  monoH: 15,
  badgeH: 18,
  badgeGap: 4,
  badgePadX: 6,
  labelH: 16,
  labelPadX: 5,
  hGap: 28,
  vGap: 72,
  minRouterW: 110,
  minDeviceW: 96,
  stackThreshold: 4, // a router with at least this many devices lists them in a stack
  stackMaxRows: 12,
  stackRowGap: 10,
  stackTrunk: 12,
  stackColGap: 26,
  stackDrop: 18, // a router whose only children are stacked devices drops its trunk this far from its left edge
  margin: 24,
};

export const isObj = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
export const s = (v: Json | undefined): string | null => (typeof v === "string" ? v : null);

export interface Iface {
  name: string;
  router: string | null;
  ip: string | null;
  up: boolean;
  condition: Json;
  conditionDown: Json;
}

export function ifacesOf(dev: JsonObject): Iface[] {
  const list = Array.isArray(dev.interfaces) ? dev.interfaces : [];
  return list.filter(isObj).map((i) => ({
    name: s(i.name) ?? "?",
    router: s(i.router),
    ip: s(i.ip) ?? s(i.ip_v6),
    up: i.is_up !== false,
    condition: i.link_condition ?? null,
    conditionDown: i.link_condition_down ?? null,
  }));
}

export function ifaceLabel(i: Iface): string {
  const c = i.condition ?? i.conditionDown;
  if (c === null || c === undefined || c === "lan") return i.name;
  const summary = conditionSummary(c).split(", ").slice(0, 2).join(", ");
  return `${i.name} · ${summary}`;
}

export function labelW(text: string, m: Measure): number {
  return Math.ceil(m(text, "label")) + 2 * metrics.labelPadX;
}

export function badgesW(badges: string[], m: Measure): number {
  if (!badges.length) return 0;
  return badges.reduce((w, b) => w + Math.ceil(m(b, "badge")) + 2 * metrics.badgePadX, 0) + metrics.badgeGap * (badges.length - 1);
}

export function boxHeight(lines: number, badges: boolean): number {
  return 2 * metrics.padY + metrics.titleH + lines * metrics.monoH + (badges ? metrics.badgeH + 4 : 0);
}

export function routerNode(name: string, r: JsonObject, m: Measure): LayoutNode {
  const region = s(r.region);
  const badges: string[] = [];
  const nat = modeName(r.nat);
  if (nat !== "none") badges.push(`nat:${nat}`);
  const nat6 = modeName(r.nat_v6);
  if (nat6 !== "none") badges.push(`nat6:${nat6}`);
  const fw = modeName(r.firewall);
  if (fw !== "none") badges.push(`fw:${fw}`);
  const lines: string[] = [];
  const cidr = s(r.downstream_cidr) ?? s(r.downstream_cidr_v6);
  if (cidr) lines.push(cidr);
  const titleW = m(name, "title") + (region ? m(` [${region}]`, "title") : 0);
  const w = Math.max(
    metrics.minRouterW,
    Math.ceil(Math.max(titleW, badgesW(badges, m), ...lines.map((l) => m(l, "mono")))) + 2 * metrics.padX,
  );
  return { id: `r:${name}`, kind: "router", name, title: name, region, lines, badges, x: 0, y: 0, w, h: boxHeight(lines.length, badges.length > 0) };
}

export function deviceNode(name: string, dev: JsonObject, m: Measure): LayoutNode {
  const ifs = ifacesOf(dev);
  const lines = ifs.map((i) => i.ip).filter((ip): ip is string => ip !== null);
  const w = Math.max(metrics.minDeviceW, Math.ceil(Math.max(m(name, "title"), ...lines.map((l) => m(l, "mono")))) + 2 * metrics.padX);
  return { id: `d:${name}`, kind: "device", name, title: name, region: null, lines, badges: [], x: 0, y: 0, w, h: boxHeight(lines.length, false) };
}

export function ixNode(st: LabState, m: Measure): LayoutNode {
  const gw = st.ix ? s(st.ix.gw) ?? s(st.ix.gw_v6) : null;
  const title = gw ? `IX (${gw})` : "IX";
  const d = Math.max(64, Math.ceil(m(title, "ix")) + 28);
  return { id: "ix", kind: "ix", name: "IX", title, region: null, lines: [], badges: [], x: 0, y: 0, w: d, h: d };
}

// The router a device is drawn under: the one behind its default interface, else its first.
export function primaryRouter(dev: JsonObject, ifs: Iface[], routers: Record<string, JsonObject>): string | null {
  const via = s(dev.default_via);
  const order = [...ifs.filter((i) => i.name === via), ...ifs];
  for (const i of order) if (i.router !== null && Object.prototype.hasOwnProperty.call(routers, i.router)) return i.router;
  return null;
}
