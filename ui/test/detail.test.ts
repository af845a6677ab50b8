// The topology's detail panel is rebuilt only when what it shows changed (review item 7): an
// event about another node, or another node's counters, must leave the open panel alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { detailSignature } from "../src/detail";
import { applyEvent, emptyState, type LabEvent } from "../src/reducer";

const ts = "2026-03-05T12:00:00.000000000Z";
let opid = 0;
const ev = (kind: string, fields: Record<string, unknown>) => ({ opid: opid++, timestamp: ts, kind, ...fields }) as LabEvent;
const router = (name: string) => ev("router_added", { name, ns: `ns-${name}`, region: null, nat: "none", nat_v6: "none", firewall: "none", ip_support: "v4-only", mtu: null, upstream: null, downstream_cidr: "10.0.0.0/24", downstream_gw: "10.0.0.1", downstream_bridge: "br" });
const device = (name: string) => ev("device_added", { name, ns: `ns-${name}`, default_via: "eth0", mtu: null, interfaces: [{ name: "eth0", router: "r1", ip: "10.0.0.2", ip_v6: null, ll_v6: null, link_condition: null }] });
const counters = (node: string, rx: number) => ev("packet_counters", { node, counters: [{ iface: "eth0", rx_bytes: rx, tx_bytes: 0, rx_packets: 1, tx_packets: 0 }] });

function lab() {
  opid = 0;
  const st = emptyState();
  for (const e of [ev("lab_created", { lab_prefix: "p", label: "l", seed: 1, engine: "userspace" }), router("r1"), device("a"), device("b")]) applyEvent(st, e);
  return st;
}

test("another device's events leave a device's panel signature unchanged", () => {
  const st = lab();
  const before = detailSignature("d:a", st);
  assert.notEqual(before, null);
  applyEvent(st, counters("b", 100));
  applyEvent(st, device("c"));
  assert.equal(detailSignature("d:a", st), before);
});

test("the device's own counters change its signature", () => {
  const st = lab();
  const before = detailSignature("d:a", st);
  applyEvent(st, counters("a", 100));
  assert.notEqual(detailSignature("d:a", st), before);
});

test("a router's panel changes when a router is added below it, not for device counters", () => {
  const st = lab();
  const before = detailSignature("r:r1", st);
  applyEvent(st, counters("a", 5));
  assert.equal(detailSignature("r:r1", st), before);
  applyEvent(st, ev("router_added", { ...router("r2"), upstream: "r1" }));
  assert.notEqual(detailSignature("r:r1", st), before);
});

test("a node that no longer exists has no panel", () => {
  const st = lab();
  assert.equal(detailSignature("d:zz", st), null);
  assert.equal(detailSignature("r:zz", st), null);
  assert.equal(detailSignature("region:4", st), null);
  assert.notEqual(detailSignature("ix", st), null);
});
