// SPEC 15.9 math and the Perf tab's column rules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { activeColumns, elapsedS, fixedHalfEven, latencyMs, mbS, perfTabShown, summarize, upMbS } from "../src/perfmath";

test("an unsigned integer duration is microseconds, anything else float seconds", () => {
  assert.equal(elapsedS({ id: "a", duration: "2000000" }), 2);
  assert.equal(elapsedS({ id: "a", duration: "2.5" }), 2.5);
  assert.equal(elapsedS({ id: "a", duration: "abc" }), null);
  assert.equal(elapsedS({ id: "a", duration: "" }), null);
  assert.equal(elapsedS({ id: "a", duration: null }), null);
});

test("MB/s is bytes / (seconds * 1e6), only for a positive elapsed time (SPEC 17.16 item 144)", () => {
  assert.equal(mbS({ id: "a", duration: "2000000", down_bytes: "1000000" }), 0.5);
  assert.equal(upMbS({ id: "a", duration: "2.0", up_bytes: "3000000" }), 1.5);
  assert.equal(upMbS({ id: "a", duration: "2", up_bytes: "3000000" }), 1.5e6); // 2 µs
  assert.equal(mbS({ id: "a", duration: "0", down_bytes: "1000" }), null);
  assert.equal(mbS({ id: "a", down_bytes: "1000" }), null);
  assert.equal(mbS({ id: "a", duration: "1", down_bytes: "12x" }), null);
  assert.equal(latencyMs({ id: "a", latency_ms: "100.42" }), 100.42);
  assert.equal(latencyMs({ id: "a", latency_ms: " 1" }), null);
});

test("columns appear only when some step has a value, in SPEC order", () => {
  const ping = [{ id: "ping-check", duration: null, up_bytes: null, down_bytes: null, latency_ms: "100.2" }];
  assert.deepEqual(activeColumns(ping).map((c) => c.title), ["Latency (ms)"]);
  const iperf = [{ id: "iperf-client", duration: "2.0", down_bytes: "250000000", up_bytes: null, latency_ms: null }];
  assert.deepEqual(activeColumns(iperf).map((c) => c.title), ["Down MB/s", "Elapsed (s)", "Down Bytes"]);
  assert.equal(activeColumns(iperf)[0].value(iperf[0]), "125.00");
  assert.equal(activeColumns(iperf)[2].value(iperf[0]), "250,000,000");
});

test("the summary aggregates repeated sims: N, max down/up, min latency", () => {
  const rows = summarize([
    { sim: "b", steps: [{ id: "x", duration: "1.0", down_bytes: "2000000" }] },
    { sim: "a", steps: [{ id: "p", latency_ms: "20" }] },
    { sim: "b", steps: [{ id: "y", duration: "1000000", down_bytes: "5000000", up_bytes: "1000000" }, { id: "z", latency_ms: "3.5" }] },
  ]);
  assert.deepEqual(rows, [
    { sim: "a", n: 1, maxDown: null, maxUp: null, minLatency: 20 },
    { sim: "b", n: 3, maxDown: 5, maxUp: 1, minLatency: 3.5 },
  ]);
});

test("numbers round like printf in results.cpp: exact ties to even", () => {
  // Exact binary ties: toFixed gives 0.13, 2.6, 3 and -0.13 here.
  assert.equal(fixedHalfEven(0.125, 2), "0.12");
  assert.equal(fixedHalfEven(2.25, 1), "2.2");
  assert.equal(fixedHalfEven(2.5, 0), "2");
  assert.equal(fixedHalfEven(-0.125, 2), "-0.12");
  // Odd digits still go up; non-ties (1.005 is 1.00499999…) round to nearest.
  assert.equal(fixedHalfEven(0.375, 2), "0.38");
  assert.equal(fixedHalfEven(3.5, 0), "4");
  assert.equal(fixedHalfEven(1.005, 2), "1.00");
  assert.equal(fixedHalfEven(12.3456, 2), "12.35");
  assert.equal(fixedHalfEven(0, 2), "0.00");
});

test("the Perf tab: run view only with results.json, invocation view always", () => {
  const f = (path: string) => ({ node: "_lab", kind: "text", path });
  assert.equal(perfTabShown("run", [f("events.jsonl"), f("state.json")]), false);
  assert.equal(perfTabShown("run", []), false);
  assert.equal(perfTabShown("run", [f("events.jsonl"), f("results.json")]), true);
  assert.equal(perfTabShown("run", [f("sub/results.json")]), false);
  assert.equal(perfTabShown("inv", []), true);
  assert.equal(perfTabShown(null, [f("results.json")]), false);
});
