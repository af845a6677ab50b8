// The Timeline's sorting, column order and row window (src/timeline_model.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TimelineEvent } from "../src/logparse";
import { mergeSorted, nodeOrder, rowWindow } from "../src/timeline_model";

const ev = (node: string, tsUs: number, kind = "k"): TimelineEvent => ({ node, tsUs, ts: String(tsUs), kind, fields: {} });
const label = (list: TimelineEvent[]) => list.map((e) => `${e.node}@${e.tsUs}`);

test("mergeSorted orders like a stable sort of the concatenation", () => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  let merged: TimelineEvent[] = [];
  const all: TimelineEvent[] = [];
  for (let round = 0; round < 50; round++) {
    const batch = Array.from({ length: 1 + rnd(40) }, (_, i) => ev(`n${round}-${i}`, rnd(7) === 0 ? NaN : rnd(500)));
    merged = mergeSorted(merged, batch);
    all.push(...batch);
  }
  const k = (e: TimelineEvent) => (Number.isFinite(e.tsUs) ? e.tsUs : Infinity);
  const expected = [...all].sort((a, b) => (k(a) === k(b) ? 0 : k(a) < k(b) ? -1 : 1));
  assert.deepEqual(label(merged), label(expected));
});

test("mergeSorted appends a batch that starts after the last event without copying", () => {
  const held = [ev("a", 1), ev("a", 5)];
  const out = mergeSorted(held, [ev("b", 9), ev("b", 5)]);
  assert.equal(out, held);
  assert.deepEqual(label(out), ["a@1", "a@5", "b@5", "b@9"]);
});

test("nodeOrder puts _lab first, then names, once each", () => {
  assert.deepEqual(nodeOrder(["zeta", "_lab", "alpha", "zeta", "Beta"]), ["_lab", "Beta", "alpha", "zeta"]);
});

test("rowWindow covers the viewport with a margin and stays in range", () => {
  assert.deepEqual(rowWindow(0, 400, 40, 20_000), [0, 111]);
  const [from, to] = rowWindow(400_000, 400, 40, 20_000);
  assert.deepEqual([from, to], [9_900, 10_111]);
  assert.deepEqual(rowWindow(800_000, 400, 40, 20_000), [19_900, 20_000]);
  assert.deepEqual(rowWindow(0, 400, 40, 0), [0, 0]);
  assert.deepEqual(rowWindow(0, 400, 40, 150), [0, 111]);
});
