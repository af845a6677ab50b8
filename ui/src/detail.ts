// The topology's detail panel: every field of the selected RouterState / DeviceState / IX (SPEC
// 13.3), conditions in both directions, counters and device lists. Fields this page does not know
// (added by newer emitters) are listed too, as JSON.

import { h } from "./dom";
import { conditionSummary, formatBytes, formatInt, modeName } from "./format";
import type { Json, JsonObject, LabState } from "./reducer";

export type Select = (id: string) => void;

const isObj = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

function value(v: Json | undefined): Node {
  if (v === undefined || v === null) return h("span", { class: "muted" }, "—");
  if (typeof v === "boolean") return h("span", { class: v ? "bool-yes" : "bool-no" }, v ? "yes" : "no");
  if (typeof v === "string" || typeof v === "number") return h("span", { class: "mono" }, String(v));
  return h("code", { class: "json-inline" }, JSON.stringify(v));
}

function condition(v: Json | undefined): Node {
  if (v === undefined || v === null) return h("span", { class: "muted" }, "none");
  return h("span", { title: JSON.stringify(v) }, h("span", { class: "cond" }, conditionSummary(v)), typeof v === "object" ? h("code", { class: "json-inline small" }, JSON.stringify(v)) : null);
}

function mode(v: Json | undefined): Node {
  const name = modeName(v);
  if (isObj(v)) return h("span", null, h("b", null, name), " ", h("code", { class: "json-inline small" }, JSON.stringify(v)));
  return h("span", { class: name === "none" ? "muted" : "mono" }, name);
}

function nodeLink(kind: "r" | "d", name: string, select: Select): Node {
  return h("button", { class: `chip chip-${kind === "r" ? "router" : "device"}`, onclick: () => select(`${kind}:${name}`) }, name);
}

type Row = [string, Node];

// Field names wrap after an underscore, not inside a word, in a narrow panel.
function key(k: string): Node[] {
  const parts = k.split("_");
  return parts.flatMap((part, i) => (i < parts.length - 1 ? [`${part}_`, h("wbr")] : [part])) as Node[];
}

function table(rows: Row[]): HTMLElement {
  return h("table", { class: "kv" }, h("tbody", null, rows.map(([k, v]) => h("tr", null, h("th", null, key(k)), h("td", null, v)))));
}

function section(title: string, ...content: (Node | null)[]): HTMLElement {
  return h("section", { class: "detail-section" }, h("h3", null, title), ...content);
}

function countersTable(c: Json | undefined): HTMLElement {
  const entries = isObj(c) ? Object.entries(c).filter(([, v]) => isObj(v)) : [];
  if (!entries.length) return h("p", { class: "muted" }, "no counters yet");
  const num = (o: JsonObject, k: string) => (typeof o[k] === "number" ? (o[k] as number) : NaN);
  return h(
    "table",
    { class: "grid counters" },
    h("thead", null, h("tr", null, h("th", null, "iface"), h("th", null, "rx"), h("th", null, "tx"), h("th", null, "rx pkts"), h("th", null, "tx pkts"))),
    h(
      "tbody",
      null,
      entries
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([iface, o]) => {
          const x = o as JsonObject;
          return h(
            "tr",
            null,
            h("td", { class: "mono" }, iface),
            h("td", { class: "num", title: `${num(x, "rx_bytes")} bytes` }, formatBytes(num(x, "rx_bytes"))),
            h("td", { class: "num", title: `${num(x, "tx_bytes")} bytes` }, formatBytes(num(x, "tx_bytes"))),
            h("td", { class: "num" }, formatInt(num(x, "rx_packets"))),
            h("td", { class: "num" }, formatInt(num(x, "tx_packets"))),
          );
        }),
    ),
  );
}

function extras(entry: JsonObject, known: string[]): Row[] {
  return Object.keys(entry)
    .filter((k) => !known.includes(k))
    .sort()
    .map((k) => [k, value(entry[k])]);
}

const ROUTER_KEYS = [
  "ns", "region", "preset", "nat", "nat_v6", "firewall", "ip_support", "mtu", "upstream", "uplink_ip", "uplink_ip_v6",
  "uplink_ll_v6", "downstream_cidr", "downstream_gw", "downstream_cidr_v6", "downstream_gw_v6", "downstream_ll_v6",
  "downstream_bridge", "downlink_condition", "uplink_condition", "block_icmp_frag_needed", "ra_enabled",
  "ra_interval_secs", "ra_lifetime_secs", "devices", "counters",
];

function routerDetail(name: string, r: JsonObject, st: LabState, select: Select): HTMLElement[] {
  const uc = isObj(r.uplink_condition) ? r.uplink_condition : {};
  const up = typeof r.upstream === "string" ? r.upstream : null;
  const devices = Array.isArray(r.devices) ? r.devices.filter((d): d is string => typeof d === "string") : [];
  const subRouters = Object.keys(st.routers).filter((n) => st.routers[n].upstream === name).sort();
  return [
    section(
      "router",
      table([
        ["ns", value(r.ns)],
        ["region", value(r.region)],
        ["preset", value(r.preset)],
        ["nat", mode(r.nat)],
        ["nat_v6", mode(r.nat_v6)],
        ["firewall", mode(r.firewall)],
        ["ip_support", value(r.ip_support)],
        ["mtu", value(r.mtu)],
        ["upstream", up && st.routers[up] ? nodeLink("r", up, select) : up ? value(up) : h("span", { class: "muted" }, "IX")],
      ]),
    ),
    section(
      "uplink",
      table([
        ["uplink_ip", value(r.uplink_ip)],
        ["uplink_ip_v6", value(r.uplink_ip_v6)],
        ["uplink_ll_v6", value(r.uplink_ll_v6)],
        ["condition up", condition(uc.up)],
        ["condition down", condition(uc.down)],
      ]),
    ),
    section(
      "downstream",
      table([
        ["downstream_cidr", value(r.downstream_cidr)],
        ["downstream_gw", value(r.downstream_gw)],
        ["downstream_cidr_v6", value(r.downstream_cidr_v6)],
        ["downstream_gw_v6", value(r.downstream_gw_v6)],
        ["downstream_ll_v6", value(r.downstream_ll_v6)],
        ["downstream_bridge", value(r.downstream_bridge)],
        ["downlink_condition", condition(r.downlink_condition)],
        ["block_icmp_frag_needed", value(r.block_icmp_frag_needed)],
        ["ra_enabled", value(r.ra_enabled)],
        ["ra_interval_secs", value(r.ra_interval_secs)],
        ["ra_lifetime_secs", value(r.ra_lifetime_secs)],
      ]),
    ),
    section(
      `devices (${devices.length})`,
      devices.length ? h("div", { class: "chips" }, devices.map((d) => nodeLink("d", d, select))) : h("p", { class: "muted" }, "none"),
    ),
    subRouters.length ? section(`sub-routers (${subRouters.length})`, h("div", { class: "chips" }, subRouters.map((d) => nodeLink("r", d, select)))) : null,
    section("counters", countersTable(r.counters)),
    ...moreSection(extras(r, ROUTER_KEYS)),
  ].filter((x): x is HTMLElement => x !== null);
}

function moreSection(rows: Row[]): HTMLElement[] {
  return rows.length ? [section("other fields", table(rows))] : [];
}

const IFACE_KEYS = ["name", "router", "ip", "ip_v6", "ll_v6", "link_condition", "link_condition_down", "is_up"];
const DEVICE_KEYS = ["ns", "default_via", "mtu", "interfaces", "counters"];

function deviceDetail(d: JsonObject, st: LabState, select: Select): HTMLElement[] {
  const ifaces = Array.isArray(d.interfaces) ? d.interfaces.filter(isObj) : [];
  return [
    section("device", table([["ns", value(d.ns)], ["default_via", value(d.default_via)], ["mtu", value(d.mtu)]])),
    ...ifaces.map((i) => {
      const router = typeof i.router === "string" ? i.router : null;
      return section(
        `interface ${typeof i.name === "string" ? i.name : "?"}${i.name === d.default_via ? " (default)" : ""}`,
        table([
          ["router", router && st.routers[router] ? nodeLink("r", router, select) : value(router)],
          ["ip", value(i.ip)],
          ["ip_v6", value(i.ip_v6)],
          ["ll_v6", value(i.ll_v6)],
          ["condition up", condition(i.link_condition)],
          ["condition down", condition(i.link_condition_down)],
          ["is_up", value(i.is_up ?? true)],
          ...extras(i, IFACE_KEYS),
        ]),
      );
    }),
    section("counters", countersTable(d.counters)),
    ...moreSection(extras(d, DEVICE_KEYS)),
  ];
}

function ixDetail(st: LabState, select: Select): HTMLElement[] {
  const ix = st.ix ?? {};
  const top = Object.keys(st.routers).filter((n) => !st.routers[n].upstream || !st.routers[st.routers[n].upstream as string]).sort();
  return [
    section(
      "internet exchange",
      table([["bridge", value(ix.bridge)], ["cidr", value(ix.cidr)], ["gw", value(ix.gw)], ["cidr_v6", value(ix.cidr_v6)], ["gw_v6", value(ix.gw_v6)], ...extras(ix, ["bridge", "cidr", "gw", "cidr_v6", "gw_v6"])]),
    ),
    section(`routers on the IX (${top.length})`, h("div", { class: "chips" }, top.map((r) => nodeLink("r", r, select)))),
    section(
      "lab",
      table([
        ["lab_prefix", value(st.lab_prefix)],
        ["label", value(st.label)],
        ["status", value(st.status)],
        ["created_at", value(st.created_at)],
        ["opid", value(st.opid)],
        ["regions", value(Object.keys(st.regions).join(", ") || null)],
      ]),
    ),
  ];
}

function regionLinkDetail(index: number, st: LabState, select: Select): HTMLElement[] {
  const l = st.region_links[index];
  if (!isObj(l)) return [];
  const end = (v: Json) => (typeof v === "string" && st.routers[v] ? nodeLink("r", v, select) : value(v));
  return [section("region link", table([["a", end(l.a)], ["b", end(l.b)], ["condition", condition(l.condition)], ["broken", value(l.broken)], ...extras(l, ["a", "b", "condition", "broken"])]))];
}

// The panel's title and sections for a layout id ("ix", "r:x", "d:x", "region:3"); null when the
// selected node no longer exists.
export function renderDetail(id: string, st: LabState, select: Select): { kind: string; title: string; body: HTMLElement[] } | null {
  if (id === "ix") return { kind: "ix", title: "IX", body: ixDetail(st, select) };
  const [prefix, ...rest] = id.split(":");
  const name = rest.join(":");
  if (prefix === "r" && st.routers[name]) return { kind: "router", title: name, body: routerDetail(name, st.routers[name], st, select) };
  if (prefix === "d" && st.devices[name]) return { kind: "device", title: name, body: deviceDetail(st.devices[name], st, select) };
  const link = prefix === "region" ? st.region_links[Number(name)] : undefined;
  if (isObj(link)) return { kind: "region link", title: `${link.a} ↔ ${link.b}`, body: regionLinkDetail(Number(name), st, select) };
  return null;
}

// What the panel of `id` shows, as one string (null when the node no longer exists): the entry's
// JSON plus the few facts of other entries it links to. The topology rebuilds the open panel only
// when this changed, so events about other nodes keep the reader's selection and focus.
export function detailSignature(id: string, st: LabState): string | null {
  const upstreams = Object.entries(st.routers).map(([n, r]) => [n, r.upstream ?? null]);
  if (id === "ix") return JSON.stringify([st.ix, upstreams, st.lab_prefix, st.label, st.status, st.created_at, st.opid, Object.keys(st.regions)]);
  const [prefix, ...rest] = id.split(":");
  const name = rest.join(":");
  const entry = prefix === "r" ? st.routers[name] : prefix === "d" ? st.devices[name] : prefix === "region" ? st.region_links[Number(name)] : undefined;
  if (prefix === "region" ? !isObj(entry) : entry === undefined) return null;
  return JSON.stringify([id, entry, upstreams]);
}
