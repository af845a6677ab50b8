// The Timeline's pure parts (unit-tested in test/timeline_model.test.ts): keeping events sorted
// as batches arrive, the column order, and which rows a scroll position shows.

import type { TimelineEvent } from "./logparse";

// Events without a readable timestamp sort last.
const key = (e: TimelineEvent) => (Number.isFinite(e.tsUs) ? e.tsUs : Infinity);

// `sorted` plus `batch`, in time order, in O(n + b log b). Stable: on equal times the events
// already held come first and a batch keeps its file order, exactly as a stable sort of the
// concatenation would order them. `sorted` is not modified unless it can simply be appended to.
export function mergeSorted(sorted: TimelineEvent[], batch: TimelineEvent[]): TimelineEvent[] {
  const b = batch.map((e, i) => [key(e), i, e] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]).map((x) => x[2]);
  if (!b.length) return sorted;
  if (!sorted.length || key(sorted[sorted.length - 1]) <= key(b[0])) {
    for (const e of b) sorted.push(e);
    return sorted;
  }
  const out: TimelineEvent[] = new Array(sorted.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < sorted.length && j < b.length) out[k++] = key(b[j]) < key(sorted[i]) ? b[j++] : sorted[i++];
  while (i < sorted.length) out[k++] = sorted[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

// `_lab` first, then the nodes by name.
export function nodeOrder(nodes: string[]): string[] {
  return [...new Set(nodes)].sort((a, b) => (a === "_lab" ? -1 : b === "_lab" ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

// Rows kept above and below the viewport: at least a screen, so scrolling shows no gaps, and
// at least OVERSCAN, so a small run (up to a few hundred events) is rendered whole.
export const OVERSCAN = 100;

// The rows [from, to) to render for a viewport of `height` px scrolled to `top` px (relative to
// the first row).
export function rowWindow(top: number, height: number, rowH: number, count: number): [number, number] {
  const visible = Math.ceil(height / rowH) + 1;
  const margin = Math.max(visible, OVERSCAN);
  const first = Math.floor(Math.max(0, top) / rowH);
  const from = Math.max(0, Math.min(count, first - margin));
  const to = Math.max(from, Math.min(count, first + visible + margin));
  return [from, to];
}
