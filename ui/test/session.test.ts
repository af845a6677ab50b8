// A reused output directory (review item 9): with OutDir::exact a second lab appends to the same
// events.jsonl and its opids restart at 0. The session must show the second lab, not drop it.
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
g.window = { setInterval: () => 0, clearInterval: () => undefined };
g.fetch = async (url: string) => {
  if (url.endsWith("/state")) return stateJson ? new Response(JSON.stringify(stateJson)) : new Response("", { status: 404 });
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

test("a lab_created after state.json re-subscribes without `after` and replays to the last lab", async () => {
  FakeEventSource.all = [];
  const { emptyState, applyEvent } = await import("../src/reducer");
  const st = emptyState();
  for (const ev of [created(0, "first"), router(1, "a"), router(2, "b")]) applyEvent(st, ev);
  stateJson = st;
  const s = new RunSession("r");
  await s.start();
  assert.equal(FakeEventSource.all[0].url, "/api/runs/r/events?after=2");
  assert.equal(s.state.label, "first");
  // The next lab's lab_created (opid 0 is dropped by `after`; any lab_created seen is a new lab).
  FakeEventSource.all[0].send(created(3, "second"));
  assert.equal(FakeEventSource.all.length, 2);
  assert.ok(FakeEventSource.all[0].closed);
  const replay = FakeEventSource.all[1];
  assert.equal(replay.url, "/api/runs/r/events");
  for (const ev of [created(0, "first"), router(1, "a"), router(2, "b"), created(0, "second"), router(1, "c")]) replay.send(ev);
  assert.equal(s.state.label, "second");
  assert.deepEqual(Object.keys(s.state.routers), ["c"]);
  assert.equal(FakeEventSource.all.length, 2, "the replay does not re-subscribe again");
  s.dispose();
});
