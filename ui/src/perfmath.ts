// Step metrics of SPEC 15.9, matching src/runner/results.cpp: results.json values are the
// captured strings; a value that does not parse completely counts as absent.

import type { LogFile, StepResult } from "./api";

const FLOAT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export function parseNumber(v: string | null | undefined): number | null {
  if (typeof v !== "string" || !FLOAT.test(v)) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

// `duration` as an unsigned integer is microseconds, otherwise seconds as a float.
export function elapsedS(step: StepResult): number | null {
  const d = step.duration;
  if (typeof d !== "string" || d === "") return null;
  if (/^\d+$/.test(d)) return Number(d) / 1e6;
  return parseNumber(d);
}

function rate(bytes: string | null | undefined, step: StepResult): number | null {
  const b = parseNumber(bytes);
  const secs = elapsedS(step);
  if (b === null || secs === null || secs <= 0) return null;
  return b / (secs * 1e6);
}

export const mbS = (s: StepResult) => rate(s.down_bytes, s);
export const upMbS = (s: StepResult) => rate(s.up_bytes, s);
export const latencyMs = (s: StepResult) => parseNumber(s.latency_ms);

export interface Column {
  title: string;
  value: (s: StepResult) => string | null;
  numeric: boolean;
}

// printf("%.*f") as results.cpp formats: the exact binary value rounded to `dp` digits, an exact
// tie to the even digit (glibc). toFixed breaks such ties away from zero instead (0.125 -> 0.13,
// printf gives 0.12); ties are rare but would make the page and results.json disagree.
export function fixedHalfEven(v: number, dp: number): string {
  const rounded = v.toFixed(dp);
  if (!Number.isFinite(v) || Math.abs(v) >= 1e21) return rounded;
  const exact = Math.abs(v).toFixed(100); // every digit of the double: it is a dyadic rational
  const dot = exact.indexOf(".");
  const rest = exact.slice(dot + 1 + dp);
  if (!/^50*$/.test(rest)) return rounded;
  const kept = exact.slice(0, dp === 0 ? dot : dot + 1 + dp);
  if (Number(kept[kept.length - 1]) % 2 !== 0) return rounded; // odd: up to even, as toFixed did
  return `${v < 0 ? "-" : ""}${kept}`;
}

const fixed = (v: number | null, dp: number) => (v === null ? null : fixedHalfEven(v, dp));
const rawInt = (v: string | null | undefined) => {
  const n = parseNumber(v);
  return n === null ? null : Math.round(n).toLocaleString("en-US");
};

// The per-step columns in SPEC 14.2 order; a view shows a column only when some step has it.
export const STEP_COLUMNS: Column[] = [
  { title: "Down MB/s", value: (s) => fixed(mbS(s), 2), numeric: true },
  { title: "Up MB/s", value: (s) => fixed(upMbS(s), 2), numeric: true },
  { title: "Latency (ms)", value: (s) => fixed(latencyMs(s), 1), numeric: true },
  { title: "Elapsed (s)", value: (s) => fixed(elapsedS(s), 3), numeric: true },
  { title: "Down Bytes", value: (s) => rawInt(s.down_bytes), numeric: true },
  { title: "Up Bytes", value: (s) => rawInt(s.up_bytes), numeric: true },
];

export function activeColumns(steps: StepResult[]): Column[] {
  return STEP_COLUMNS.filter((c) => steps.some((s) => c.value(s) !== null));
}

export interface SimSummary {
  sim: string;
  n: number;
  maxDown: number | null;
  maxUp: number | null;
  minLatency: number | null;
}

const best = (vals: (number | null)[], pick: (a: number, b: number) => number) =>
  vals.reduce<number | null>((acc, v) => (v === null ? acc : acc === null ? v : pick(acc, v)), null);

// One row per sim name: repeated runs of a sim are aggregated, as combined-results.md does.
export function summarize(runs: { sim: string; steps: StepResult[] }[]): SimSummary[] {
  const bySim = new Map<string, StepResult[]>();
  for (const r of runs) bySim.set(r.sim, [...(bySim.get(r.sim) ?? []), ...r.steps]);
  return [...bySim.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sim, steps]) => ({
      sim,
      n: steps.length,
      maxDown: best(steps.map(mbS), Math.max),
      maxUp: best(steps.map(upMbS), Math.max),
      minLatency: best(steps.map(latencyMs), Math.min),
    }));
}

// SPEC 14.2: the run view has a Perf tab only when the run has a results.json (the /logs listing
// names every non-empty top-level file); the invocation view always has one.
export function perfTabShown(selection: "run" | "inv" | null, logs: readonly LogFile[]): boolean {
  return selection === "inv" || (selection === "run" && logs.some((f) => f.path === "results.json"));
}
