// The SPEC 13.3 reducer, case by case as tests/unit/events_test.cpp checks the C++ one.
import assert from "node:assert/strict";
import { test } from "node:test";
import { applyEvent, emptyState, stateFromJson, type Json, type JsonObject, type LabState } from "../src/reducer";

const TS = "2026-03-05T12:00:00.000000042Z";

function routerState(): JsonObject {
  return { ns: "lab1-r1", region: null, nat: "none", nat_v6: "none", firewall: "none", ip_support: "v4-only", mtu: null, upstream: null, devices: [], counters: {} };
}
const iface = (name: string, router: string, ip: string): JsonObject => ({ name, router, ip, ip_v6: null, ll_v6: null, link_condition: null, link_condition_down: null, is_up: true });
const deviceState = (ifaces: JsonObject[]): JsonObject => ({ ns: "lab1-d", default_via: ifaces[0]?.name ?? null, mtu: null, interfaces: ifaces, counters: {} });

class Reducer {
  state: LabState = emptyState();
  opid = 0;
  apply(kind: string, fields: JsonObject): void {
    applyEvent(this.state, { ...fields, opid: this.opid++, timestamp: TS, kind });
  }
  devices(r: string): Json {
    return this.state.routers[r].devices;
  }
  iface(d: string, name: string): JsonObject {
    return (this.state.devices[d].interfaces as JsonObject[]).find((i) => i.name === name)!;
  }
}

function basicLab(): Reducer {
  const r = new Reducer();
  r.apply("lab_created", { lab_prefix: "lab-p1", label: null });
  r.apply("ix_created", { bridge: "br-ix", cidr: "198.18.0.0/24", gw: "198.18.0.1", cidr_v6: "2001:db8::/64", gw_v6: "2001:db8::1" });
  r.apply("router_added", { ...routerState(), name: "r1" });
  r.apply("device_added", { ...deviceState([iface("eth0", "r1", "10.0.1.2")]), name: "d1" });
  return r;
}

test("builds the basic lab of SPEC 17.15 item 131", () => {
  const r = basicLab();
  const s = r.state;
  assert.equal(s.opid, 3);
  assert.equal(s.lab_prefix, "lab-p1");
  assert.equal(s.label, null);
  assert.equal(s.status, "running");
  assert.equal(s.created_at, TS);
  assert.equal(s.ix?.cidr, "198.18.0.0/24");
  assert.deepEqual(Object.keys(s.routers), ["r1"]);
  assert.deepEqual(Object.keys(s.devices), ["d1"]);
  assert.deepEqual(r.devices("r1"), ["d1"]);
  assert.equal("name" in s.routers.r1, false);
  assert.equal(s.devices.d1.default_via, "eth0");
});

test("replug moves a device between router lists and keeps untouched fields", () => {
  const r = basicLab();
  r.apply("router_added", { ...routerState(), name: "r2" });
  r.apply("interface_replugged", { device: "d1", iface_name: "eth0", from_router: "r1", to_router: "r2", new_ip: "10.0.2.2", new_ip_v6: null });
  assert.deepEqual(r.devices("r1"), []);
  assert.deepEqual(r.devices("r2"), ["d1"]);
  assert.equal(r.iface("d1", "eth0").router, "r2");
  assert.equal(r.iface("d1", "eth0").ip, "10.0.2.2");
  assert.equal(r.iface("d1", "eth0").is_up, true);
});

test("replug keeps a device listed while another interface remains", () => {
  const r = basicLab();
  r.apply("router_added", { ...routerState(), name: "r2" });
  r.apply("interface_added", { device: "d1", iface: iface("eth1", "r1", "10.0.1.3") });
  r.apply("interface_replugged", { device: "d1", iface_name: "eth1", from_router: "r1", to_router: "r2", new_ip: "10.0.2.3", new_ip_v6: null });
  assert.deepEqual(r.devices("r1"), ["d1"]);
  assert.deepEqual(r.devices("r2"), ["d1"]);
});

test("interface add (twice) and remove keep router lists consistent", () => {
  const r = basicLab();
  r.apply("router_added", { ...routerState(), name: "r2" });
  const eth1 = iface("eth1", "r2", "10.0.2.2");
  r.apply("interface_added", { device: "d1", iface: eth1 });
  r.apply("interface_added", { device: "d1", iface: eth1 });
  assert.deepEqual(r.devices("r2"), ["d1"]);
  assert.equal((r.state.devices.d1.interfaces as Json[]).length, 2);
  r.apply("interface_removed", { device: "d1", iface_name: "eth1" });
  assert.deepEqual(r.devices("r2"), []);
  assert.deepEqual(r.devices("r1"), ["d1"]);
  assert.equal((r.state.devices.d1.interfaces as Json[]).length, 1);
});

test("removing the default interface promotes the first remaining one", () => {
  const r = basicLab();
  r.apply("interface_added", { device: "d1", iface: iface("eth1", "r1", "10.0.1.3") });
  r.apply("interface_removed", { device: "d1", iface_name: "eth0" });
  assert.equal(r.state.devices.d1.default_via, "eth1");
  assert.deepEqual(r.devices("r1"), ["d1"]);
});

test("removals delete entries and clean router lists", () => {
  const r = basicLab();
  r.apply("device_added", { ...deviceState([iface("eth0", "r1", "10.0.1.3")]), name: "d2" });
  assert.deepEqual(r.devices("r1"), ["d1", "d2"]);
  r.apply("device_removed", { name: "d1" });
  assert.equal("d1" in r.state.devices, false);
  assert.deepEqual(r.devices("r1"), ["d2"]);
  r.apply("router_removed", { name: "r1" });
  assert.deepEqual(r.state.routers, {});
  assert.equal(r.state.opid, 6);
});

test("device ip and default route changes update interfaces", () => {
  const r = basicLab();
  r.apply("interface_added", { device: "d1", iface: iface("eth1", "r1", "10.0.1.3") });
  r.apply("device_ip_changed", { device: "d1", iface_name: "eth0", new_ip: "10.0.1.99", new_ip_v6: "fd10::99" });
  assert.equal(r.iface("d1", "eth0").ip, "10.0.1.99");
  assert.equal(r.iface("d1", "eth0").ip_v6, "fd10::99");
  r.apply("default_route_changed", { device: "d1", iface: "eth1" });
  assert.equal(r.state.devices.d1.default_via, "eth1");
  r.apply("default_route_changed", { device: "d1", iface: "nope" });
  assert.equal(r.state.devices.d1.default_via, "eth1");
});

test("link conditions follow the direction (absent = up)", () => {
  const r = basicLab();
  r.apply("link_condition_changed", { device: "d1", iface: "eth0", condition: "wifi" });
  assert.equal(r.iface("d1", "eth0").link_condition, "wifi");
  assert.equal(r.iface("d1", "eth0").link_condition_down, null);
  r.apply("link_condition_changed", { device: "d1", iface: "eth0", condition: "mobile-3g", direction: "down" });
  assert.equal(r.iface("d1", "eth0").link_condition, "wifi");
  assert.equal(r.iface("d1", "eth0").link_condition_down, "mobile-3g");
  r.apply("link_condition_changed", { device: "d1", iface: "eth0", condition: null, direction: "both" });
  assert.equal(r.iface("d1", "eth0").link_condition, null);
  assert.equal(r.iface("d1", "eth0").link_condition_down, null);
});

test("region links break and restore matching either order", () => {
  const r = new Reducer();
  r.apply("region_added", { name: "eu", router: "region_eu" });
  r.apply("region_added", { name: "us", router: "region_us" });
  r.apply("region_link_added", { router_a: "region_eu", router_b: "region_us" });
  assert.deepEqual(r.state.regions.eu, { router: "region_eu" });
  assert.deepEqual(r.state.region_links, [{ a: "region_eu", b: "region_us", condition: null, broken: false }]);
  r.apply("region_link_broken", { router_a: "region_us", router_b: "region_eu", condition: "satellite" });
  assert.equal(r.state.region_links[0].broken, true);
  assert.equal(r.state.region_links[0].condition, "satellite");
  r.apply("region_link_restored", { router_a: "region_eu", router_b: "region_us" });
  assert.equal(r.state.region_links[0].broken, false);
  assert.equal(r.state.region_links[0].condition, null);
  r.apply("region_link_broken", { router_a: "region_eu", router_b: "region_asia", condition: null });
  assert.equal(r.state.region_links[0].broken, false);
});

test("router mutations update the router", () => {
  const r = basicLab();
  r.apply("nat_changed", { router: "r1", nat: "corporate" });
  r.apply("nat_v6_changed", { router: "r1", nat_v6: "nat64" });
  r.apply("firewall_changed", { router: "r1", firewall: "block_inbound" });
  r.apply("downlink_condition_changed", { router: "r1", condition: "lan" });
  r.apply("ra_changed", { router: "r1", enabled: true, interval_secs: 30, lifetime_secs: 1800 });
  r.apply("block_icmp_frag_needed_changed", { router: "r1", enabled: true });
  r.apply("uplink_condition_changed", { router: "r1", direction: "down", condition: "wifi" });
  const r1 = r.state.routers.r1;
  assert.equal(r1.nat, "corporate");
  assert.equal(r1.nat_v6, "nat64");
  assert.equal(r1.firewall, "block_inbound");
  assert.equal(r1.downlink_condition, "lan");
  assert.equal(r1.ra_enabled, true);
  assert.equal(r1.ra_interval_secs, 30);
  assert.equal(r1.ra_lifetime_secs, 1800);
  assert.equal(r1.block_icmp_frag_needed, true);
  assert.deepEqual(r1.uplink_condition, { up: null, down: "wifi" });
  r.apply("uplink_condition_changed", { router: "r1", direction: "both", condition: "lan" });
  assert.deepEqual(r.state.routers.r1.uplink_condition, { up: "lan", down: "lan" });
});

test("packet counters upsert per interface on routers and devices", () => {
  const r = basicLab();
  const c = (i: string, rx: number): JsonObject => ({ iface: i, rx_bytes: rx, tx_bytes: 2, rx_packets: 3, tx_packets: 4 });
  r.apply("packet_counters", { node: "d1", counters: [c("eth0", 100)] });
  r.apply("packet_counters", { node: "d1", counters: [c("eth0", 500)] });
  r.apply("packet_counters", { node: "r1", counters: [c("br-2", 7)] });
  assert.deepEqual(r.state.devices.d1.counters, { eth0: c("eth0", 500) });
  assert.deepEqual(r.state.routers.r1.counters, { "br-2": c("br-2", 7) });
});

test("unknown and untracked kinds change only opid", () => {
  const r = basicLab();
  const before = JSON.parse(JSON.stringify(r.state));
  for (const kind of ["something_new", "link_up", "link_down", "nat_state_flushed", "command_spawned", "command_exited", "ip_added", "dns_changed", "constructor", "__proto__"]) {
    r.apply(kind, { device: "d1", router: "r1", node: "d1", name: "d1" });
  }
  assert.equal(r.state.opid, 13);
  assert.deepEqual({ ...r.state, opid: before.opid }, before);
});

test("malformed fields change only opid", () => {
  const r = basicLab();
  const before = JSON.parse(JSON.stringify(r.state));
  r.apply("router_added", { ns: "x" });
  r.apply("device_added", { name: 7 });
  r.apply("nat_changed", { router: "ghost", nat: "home" });
  r.apply("interface_removed", { device: "d1" });
  r.apply("initial_state", { state: "not an object" });
  r.apply("link_condition_changed", { device: "d1", iface: "eth0", condition: "x", direction: "sideways" });
  assert.equal(r.state.opid, 9);
  assert.deepEqual({ ...r.state, opid: before.opid }, before);
});

test("initial_state replaces everything; the event's opid wins", () => {
  const other = basicLab();
  other.state.status = "stopped";
  const r = new Reducer();
  r.apply("lab_created", { lab_prefix: "lab-old", label: "old" });
  r.apply("router_added", { ...routerState(), name: "old" });
  r.apply("initial_state", { state: JSON.parse(JSON.stringify(other.state)) });
  assert.equal(r.state.opid, 2);
  assert.equal(r.state.lab_prefix, "lab-p1");
  assert.equal(r.state.label, null);
  assert.equal(r.state.status, "stopped");
  assert.equal("old" in r.state.routers, false);
  assert.deepEqual(r.devices("r1"), ["d1"]);
});

test("state.json: missing keys keep defaults, wrong types throw naming the key", () => {
  const s = stateFromJson({ opid: 4, routers: { a: routerState() } });
  assert.equal(s.opid, 4);
  assert.equal(s.status, "running");
  assert.deepEqual(s.region_links, []);
  assert.throws(() => stateFromJson({ opid: -1 }), /opid/);
  assert.throws(() => stateFromJson({ routers: [] }), /routers/);
  assert.throws(() => stateFromJson({ label: 3 }), /label/);
  assert.throws(() => stateFromJson([]), /root/);
});

test("the reducer does not alias event objects into the state", () => {
  const r = basicLab();
  const counters = [{ iface: "eth0", rx_bytes: 1, tx_bytes: 1, rx_packets: 1, tx_packets: 1 }];
  const ev = { node: "d1", counters };
  r.apply("packet_counters", ev);
  counters[0].rx_bytes = 99;
  assert.equal(((r.state.devices.d1.counters as JsonObject).eth0 as JsonObject).rx_bytes, 1);
});
