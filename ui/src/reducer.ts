// The state.json reducer of SPEC 13.3, ported from src/events/state.cpp (LabState::apply). Both
// must agree on every line: tests/fixtures/reducer/ is checked against each of them.
//
// Like the C++ reducer it is forgiving: an event whose fields are missing or of the wrong type
// changes only `opid`. Router and device entries stay plain JSON objects so fields added by newer
// emitters pass through untouched. `applyEvent` mutates the state in place (the UI applies
// thousands of events on a large lab; copying the state per event would be quadratic).

import { normalizeRfc3339 } from "./labevent";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface LabEvent {
  opid: number;
  timestamp: string;
  kind: string;
  [field: string]: Json;
}

export interface LabState {
  opid: number;
  lab_prefix: string;
  label: string | null;
  status: string;
  created_at: string | null;
  ix: JsonObject | null;
  routers: Record<string, JsonObject>;
  devices: Record<string, JsonObject>;
  regions: Record<string, JsonObject>;
  region_links: Json[]; // entries that are not objects are kept, as state.cpp keeps them
}

export function emptyState(): LabState {
  return {
    opid: 0,
    lab_prefix: "",
    label: null,
    status: "running",
    created_at: null,
    ix: null,
    routers: {},
    devices: {},
    regions: {},
    region_links: [],
  };
}

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

function str(obj: unknown, key: string): string | undefined {
  if (!isObject(obj)) return undefined;
  const v = obj[key];
  return typeof v === "string" ? v : undefined;
}

// Events spell "no condition" either as null or by leaving the key out.
function orNull(obj: JsonObject, key: string): Json {
  return own(obj, key) ? obj[key] : null;
}

function copyIfPresent(from: JsonObject, fromKey: string, to: JsonObject, toKey: string): void {
  if (own(from, fromKey)) to[toKey] = from[fromKey];
}

function sameType(a: Json | undefined, b: Json): boolean {
  if (a === undefined) return false;
  if (Array.isArray(b)) return Array.isArray(a);
  if (b === null) return a === null;
  if (isObject(b)) return isObject(a);
  return typeof a === typeof b;
}

const own = (obj: object, key: string) => Object.prototype.hasOwnProperty.call(obj, key);

// obj[key] = value for keys taken from the data: a node named "__proto__" must become a member,
// not the object's prototype.
function put(obj: Record<string, Json>, key: string, value: Json): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

function ensure<T extends Json>(obj: JsonObject, key: string, dflt: T): T {
  if (!own(obj, key) || !sameType(obj[key], dflt)) obj[key] = dflt;
  return obj[key] as T;
}

function findEntry(map: Record<string, JsonObject>, name: string | undefined): JsonObject | undefined {
  if (name === undefined || !own(map, name)) return undefined;
  const e = map[name];
  return isObject(e) ? e : undefined;
}

function findIface(device: JsonObject, name: string): JsonObject | undefined {
  const list = device.interfaces;
  if (!Array.isArray(list)) return undefined;
  return list.find((i): i is JsonObject => str(i, "name") === name);
}

function referencesRouter(device: JsonObject, router: string): boolean {
  const list = device.interfaces;
  return Array.isArray(list) && list.some((i) => str(i, "router") === router);
}

function attach(st: LabState, router: string | undefined, device: string): void {
  const r = findEntry(st.routers, router);
  if (!r) return;
  const list = ensure(r, "devices", [] as Json[]);
  if (!list.includes(device)) list.push(device);
}

function detach(router: JsonObject, device: string): void {
  const list = router.devices;
  if (!Array.isArray(list)) return;
  router.devices = list.filter((d) => d !== device);
}

// A device stays in a router's list while any of its interfaces still hangs off that router.
function detachIfUnreferenced(st: LabState, router: string | undefined, device: string): void {
  const r = findEntry(st.routers, router);
  if (!r || router === undefined) return;
  const d = findEntry(st.devices, device);
  if (d && referencesRouter(d, router)) return;
  detach(r, device);
}

// Event fields other than the header and "name", with the reducer's collections guaranteed present.
function flattenedEntry(fields: JsonObject, listKey: string): JsonObject {
  const entry = clone(fields);
  delete entry.name;
  ensure(entry, listKey, [] as Json[]);
  ensure(entry, "counters", {} as JsonObject);
  return entry;
}

function clone<T extends Json>(v: T): T {
  return v === null || typeof v !== "object" ? v : (JSON.parse(JSON.stringify(v)) as T);
}

// ---- handlers, one per kind ----

type Handler = (st: LabState, f: JsonObject, ev: LabEvent) => void;

function forRouter(st: LabState, f: JsonObject, update: (r: JsonObject) => void): void {
  const r = findEntry(st.routers, str(f, "router"));
  if (r) update(r);
}

// Links are undirected: the event may name the ends in either order.
function forRegionLink(st: LabState, f: JsonObject, update: (l: JsonObject) => void): void {
  const a = str(f, "router_a");
  const b = str(f, "router_b");
  if (a === undefined || b === undefined) return;
  for (const link of st.region_links) {
    if (!isObject(link)) continue;
    const la = str(link, "a");
    const lb = str(link, "b");
    if ((la === a && lb === b) || (la === b && lb === a)) update(link);
  }
}

// Applies the condition to the "up" and/or "down" slot named by the event's direction (absent =
// up). state.cpp passes both slots by operator[], which creates a missing one as null before the
// direction is even looked at, so that happens here too, also for an unknown direction (which
// otherwise leaves the state alone).
function setDirectional(f: JsonObject, target: JsonObject, upKey: string, downKey: string): void {
  if (!own(target, upKey)) target[upKey] = null;
  if (!own(target, downKey)) target[downKey] = null;
  const dir = str(f, "direction") ?? "up";
  if (dir !== "up" && dir !== "down" && dir !== "both") return;
  const value = clone(orNull(f, "condition"));
  if (dir !== "down") target[upKey] = value;
  if (dir !== "up") target[downKey] = clone(value);
}

function forIface(
  st: LabState,
  f: JsonObject,
  ifaceKey: string,
  update: (device: string, dev: JsonObject, iface: JsonObject) => void,
): void {
  const name = str(f, "device");
  const dev = findEntry(st.devices, name);
  const ifaceName = str(f, ifaceKey);
  if (!dev || name === undefined || ifaceName === undefined) return;
  const iface = findIface(dev, ifaceName);
  if (iface) update(name, dev, iface);
}

const handlers: Record<string, Handler> = {
  lab_created(st, f, ev) {
    const prefix = str(f, "lab_prefix");
    if (prefix === undefined) return;
    st.lab_prefix = prefix;
    st.label = str(f, "label") ?? null;
    st.status = "running";
    // format_rfc3339(timestamp, 9): UTC, nine digits, whatever the line's offset and precision.
    st.created_at = normalizeRfc3339(ev.timestamp) ?? ev.timestamp;
  },
  initial_state(st, f) {
    const s = f.state;
    if (!isObject(s)) return;
    try {
      Object.assign(st, stateFromJson(s));
    } catch {
      // Forgiving by design (see top of file); the opid still advances.
    }
  },
  ix_created(st, f) {
    const ix: JsonObject = {};
    for (const key of ["bridge", "cidr", "gw", "cidr_v6", "gw_v6"]) ix[key] = clone(orNull(f, key));
    st.ix = ix;
  },
  router_added(st, f) {
    const name = str(f, "name");
    if (name !== undefined) put(st.routers, name, flattenedEntry(f, "devices"));
  },
  router_removed(st, f) {
    const name = str(f, "name");
    if (name !== undefined) delete st.routers[name];
  },
  device_added(st, f) {
    const name = str(f, "name");
    if (name === undefined) return;
    const dev = flattenedEntry(f, "interfaces");
    put(st.devices, name, dev);
    for (const iface of dev.interfaces as Json[]) attach(st, str(iface, "router"), name);
  },
  device_removed(st, f) {
    const name = str(f, "name");
    if (name === undefined) return;
    // Every router, not only the referenced ones, so a list that went stale earlier heals here.
    for (const r of Object.values(st.routers)) if (isObject(r)) detach(r, name);
    delete st.devices[name];
  },
  region_added(st, f) {
    const name = str(f, "name");
    if (name !== undefined) put(st.regions, name, { router: clone(orNull(f, "router")) });
  },
  region_link_added(st, f) {
    const a = str(f, "router_a");
    const b = str(f, "router_b");
    if (a === undefined || b === undefined) return;
    st.region_links.push({ a, b, condition: clone(orNull(f, "condition")), broken: false });
  },
  region_link_broken(st, f) {
    forRegionLink(st, f, (l) => {
      l.broken = true;
      l.condition = clone(orNull(f, "condition"));
    });
  },
  region_link_restored(st, f) {
    forRegionLink(st, f, (l) => {
      l.broken = false;
      l.condition = null;
    });
  },
  nat_changed: (st, f) => forRouter(st, f, (r) => copyIfPresent(f, "nat", r, "nat")),
  nat_v6_changed: (st, f) => forRouter(st, f, (r) => copyIfPresent(f, "nat_v6", r, "nat_v6")),
  firewall_changed: (st, f) => forRouter(st, f, (r) => copyIfPresent(f, "firewall", r, "firewall")),
  downlink_condition_changed: (st, f) =>
    forRouter(st, f, (r) => {
      r.downlink_condition = clone(orNull(f, "condition"));
    }),
  block_icmp_frag_needed_changed: (st, f) =>
    forRouter(st, f, (r) => copyIfPresent(f, "enabled", r, "block_icmp_frag_needed")),
  ra_changed: (st, f) =>
    forRouter(st, f, (r) => {
      copyIfPresent(f, "enabled", r, "ra_enabled");
      copyIfPresent(f, "interval_secs", r, "ra_interval_secs");
      copyIfPresent(f, "lifetime_secs", r, "ra_lifetime_secs");
    }),
  uplink_condition_changed: (st, f) =>
    forRouter(st, f, (r) => {
      const uc = ensure(r, "uplink_condition", { up: null, down: null } as JsonObject);
      setDirectional(f, uc, "up", "down");
    }),
  link_condition_changed: (st, f) =>
    forIface(st, f, "iface", (_d, _dev, iface) => setDirectional(f, iface, "link_condition", "link_condition_down")),
  interface_added(st, f) {
    const name = str(f, "device");
    const dev = findEntry(st.devices, name);
    const iface = f.iface;
    const ifaceName = str(iface, "name");
    if (!dev || name === undefined || !isObject(iface) || ifaceName === undefined) return;
    const existing = findIface(dev, ifaceName);
    // Re-adding an interface name replaces it rather than listing it twice.
    if (existing) {
      const oldRouter = str(existing, "router");
      const list = dev.interfaces as Json[];
      list[list.indexOf(existing)] = clone(iface);
      detachIfUnreferenced(st, oldRouter, name);
    } else {
      ensure(dev, "interfaces", [] as Json[]).push(clone(iface));
    }
    attach(st, str(iface, "router"), name);
  },
  interface_removed(st, f) {
    const name = str(f, "device");
    const ifaceName = str(f, "iface_name");
    const dev = findEntry(st.devices, name);
    if (!dev || name === undefined || ifaceName === undefined) return;
    const iface = findIface(dev, ifaceName);
    if (!iface) return;
    const router = str(iface, "router");
    const remaining = (dev.interfaces as Json[]).filter((i) => str(i, "name") !== ifaceName);
    dev.interfaces = remaining;
    // Mirrors the lab (SPEC 12.7): losing the default interface promotes the first remaining one.
    if (str(dev, "default_via") === ifaceName) {
      dev.default_via = remaining.length === 0 ? null : isObject(remaining[0]) ? orNull(remaining[0], "name") : null;
    }
    detachIfUnreferenced(st, router, name);
  },
  interface_replugged: (st, f) =>
    forIface(st, f, "iface_name", (device, _dev, iface) => {
      const oldRouter = str(iface, "router");
      const toRouter = str(f, "to_router");
      if (toRouter !== undefined) iface.router = toRouter;
      copyIfPresent(f, "new_ip", iface, "ip");
      copyIfPresent(f, "new_ip_v6", iface, "ip_v6");
      // The event's from_router and the snapshot's router agree in practice; clean up both anyway.
      detachIfUnreferenced(st, oldRouter, device);
      detachIfUnreferenced(st, str(f, "from_router"), device);
      attach(st, toRouter, device);
    }),
  device_ip_changed: (st, f) =>
    forIface(st, f, "iface_name", (_d, _dev, iface) => {
      copyIfPresent(f, "new_ip", iface, "ip");
      copyIfPresent(f, "new_ip_v6", iface, "ip_v6");
    }),
  default_route_changed: (st, f) =>
    forIface(st, f, "iface", (_d, dev, iface) => {
      dev.default_via = iface.name ?? null;
    }),
  packet_counters(st, f) {
    const node = str(f, "node");
    const entry = findEntry(st.routers, node) ?? findEntry(st.devices, node);
    const list = f.counters;
    if (!entry || !Array.isArray(list)) return;
    const counters = ensure(entry, "counters", {} as JsonObject);
    for (const c of list) {
      const iface = str(c, "iface");
      if (iface !== undefined) put(counters, iface, clone(c));
    }
  },
};

// The event's fields: every top-level key except the header (a field named like a header key is
// shadowed by it, as in LabEvent::from_json).
export function eventFields(ev: LabEvent): JsonObject {
  const f: JsonObject = {};
  for (const [k, v] of Object.entries(ev)) if (k !== "opid" && k !== "timestamp" && k !== "kind") put(f, k, v as Json);
  return f;
}

// LabState::apply: every event sets opid; kinds it does not know change nothing else.
export function applyEvent(st: LabState, ev: LabEvent): void {
  st.opid = ev.opid;
  const handler = Object.prototype.hasOwnProperty.call(handlers, ev.kind) ? handlers[ev.kind] : undefined;
  if (!handler) return;
  handler(st, eventFields(ev), ev);
  // initial_state replaced the whole state, including its opid; the event's opid still wins.
  st.opid = ev.opid;
}

// LabState::from_json: missing keys keep their defaults, wrong types throw naming the key.
export function stateFromJson(j: unknown): LabState {
  if (!isObject(j)) throw new Error("state.json: <root> must be an object");
  const st = emptyState();
  const bad = (key: string, what: string) => new Error(`state.json: "${key}" must be ${what}`);
  if ("opid" in j) {
    if (typeof j.opid !== "number" || !Number.isInteger(j.opid) || j.opid < 0) throw bad("opid", "an unsigned integer");
    st.opid = j.opid;
  }
  for (const key of ["lab_prefix", "status"] as const) {
    if (key in j) {
      if (typeof j[key] !== "string") throw bad(key, "a string");
      st[key] = j[key] as string;
    }
  }
  for (const key of ["label", "created_at"] as const) {
    const v = j[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw bad(key, "a string or null");
    st[key] = v;
  }
  if ("ix" in j) {
    if (j.ix !== null && !isObject(j.ix)) throw bad("ix", "an object or null");
    st.ix = clone(j.ix);
  }
  for (const key of ["routers", "devices", "regions"] as const) {
    const v = j[key];
    if (v === undefined || v === null) continue;
    if (!isObject(v)) throw bad(key, "an object");
    for (const [name, entry] of Object.entries(v)) {
      if (!isObject(entry)) throw bad(`${key}.${name}`, "an object");
      put(st[key], name, clone(entry));
    }
  }
  if ("region_links" in j && j.region_links !== null) {
    if (!Array.isArray(j.region_links)) throw bad("region_links", "an array");
    st.region_links = j.region_links.map((l) => clone(l as Json));
  }
  return st;
}
