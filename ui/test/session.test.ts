// RunSession: a reused output directory (OutDir::exact: a second lab appends to the same
// events.jsonl with opids from 0 again) shows the second lab; a hidden page holds no event stream
// and resumes after the last opid; the file listing is polled only while a view wants it.
import assert from "node:assert/strict";
import { test } from "node:test";

type Handler = ((m: { data: string }) => void) | null;
class FakeEventSource {
  static all: FakeEventSource[] = [];
  onmessage: Handler = null;
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.all.push(this);
  }
  close(): void {
    this.closed = true;
  }
  send(ev: object): void {
    this.onmessage?.({ data: JSON.stringify(ev) });
  }
}

let stateJson: object | null = null;
const g = globalThis as Record<string, unknown>;
g.EventSource = FakeEventSource;
const timers = new Map<number, () => void>();
let nextTimer = 1;
g.window = {
  setInterval: (f: () => void) => (timers.set(nextTimer, f), nextTimer++),
  clearInterval: (id: number) => timers.delete(id),
};
const visibility = new Set<() => void>();
const doc = {
  visibilityState: "visible",
  addEventListener: (_: string, f: () => void) => visibility.add(f),
  removeEventListener: (_: string, f: () => void) => visibility.delete(f),
};
g.document = doc;
function setVisible(v: boolean): void {
  doc.visibilityState = v ? "visible" : "hidden";
  for (const f of [...visibility]) f();
}
let logFetches = 0;
g.fetch = async (url: string) => {
  if (url.endsWith("/state")) return stateJson ? new Response(JSON.stringify(stateJson)) : new Response("", { status: 404 });
  if (url.endsWith("/logs")) logFetches++;
  return new Response("[]");
};

const { RunSession } = await import("../src/session");

const ts = "2026-03-05T12:00:00.000000000Z";
const created = (opid: number, label: string) => ({ opid, timestamp: ts, kind: "lab_created", lab_prefix: `p-${label}`, label, seed: 1, engine: "userspace" });
const router = (opid: number, name: string) => ({ opid, timestamp: ts, kind: "router_added", name, ns: `ns-${name}`, region: null, nat: "none", nat_v6: "none", firewall: "none", ip_support: "v4-only", mtu: null, upstream: null, downstream_cidr: "10.0.0.0/24", downstream_gw: "10.0.0.1", downstream_bridge: "br" });

test("a second lab_created in an unfiltered stream resets the state to the new lab", async () => {
  FakeEventSource.all = [];
  stateJson = null;
  const s = new RunSession("r");
  await s.start();
  const es = FakeEventSource.all[0];
  assert.equal(es.url, "/api/runs/r/events");
  es.send(created(0, "first"));
  es.send(router(1, "a"));
  es.send(router(2, "b"));
  es.send(created(0, "second"));
  es.send(router(1, "c"));
  assert.equal(s.state.label, "second");
  assert.deepEqual(Object.keys(s.state.routers), ["c"]);
  assert.equal(s.state.opid, 1);
  assert.equal(FakeEventSource.all.length, 1, "an unfiltered stream is kept");
  s.dispose();
});

test("after state.json, a new lab in the same stream (the server stops filtering at it) resets the state", async () => {
  FakeEventSource.all = [];
  const { emptyState, applyEvent } = await import("../src/reducer");
  const st = emptyState();
  for (const ev of [created(0, "first"), router(1, "a"), router(2, "b")]) applyEvent(st, ev);
  stateJson = st;
  const s = new RunSession("r");
  await s.start();
  assert.equal(FakeEventSource.all[0].url, "/api/runs/r/events?after=2");
  assert.equal(s.state.label, "first");
  for (const ev of [created(0, "second"), router(1, "c")]) FakeEventSource.all[0].send(ev);
  assert.equal(s.state.label, "second");
  assert.deepEqual(Object.keys(s.state.routers), ["c"]);
  assert.equal(FakeEventSource.all.length, 1, "one stream");
  s.dispose();
});

test("a hidden page closes the stream and, shown again, resumes after the last opid applied", async () => {
  FakeEventSource.all = [];
  stateJson = null;
  const s = new RunSession("r");
  await s.start();
  FakeEventSource.all[0].send(created(0, "lab"));
  FakeEventSource.all[0].send(router(1, "a"));
  setVisible(false);
  assert.ok(FakeEventSource.all[0].closed);
  assert.equal(FakeEventSource.all.length, 1);
  setVisible(true);
  assert.equal(FakeEventSource.all.length, 2);
  assert.equal(FakeEventSource.all[1].url, "/api/runs/r/events?after=1");
  FakeEventSource.all[1].send(router(2, "b"));
  assert.deepEqual(Object.keys(s.state.routers).sort(), ["a", "b"]);
  assert.equal(s.state.opid, 2);
  s.dispose();
  assert.ok(FakeEventSource.all[1].closed);
  setVisible(false);
  setVisible(true);
  assert.equal(FakeEventSource.all.length, 2, "a disposed session subscribes nothing");
});

test("the file listing is polled only while a view wants it and the page is visible", async () => {
  FakeEventSource.all = [];
  stateJson = null;
  timers.clear();
  logFetches = 0;
  const s = new RunSession("r");
  await s.start();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(logFetches, 1, "fetched once at the start");
  assert.equal(timers.size, 0, "no poll without a view that lists files");
  s.setLogsWanted(true);
  assert.equal(timers.size, 1);
  setVisible(false);
  assert.equal(timers.size, 0, "no poll while hidden");
  setVisible(true);
  assert.equal(timers.size, 1);
  s.setLogsWanted(false);
  assert.equal(timers.size, 0);
  s.setStatus("stopped");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(logFetches, 3, "the start, the Logs view, and once when the run stopped");
  s.dispose();
});
