// Small pure formatters shared by the views: timestamps, enum encodings (SPEC 13.6), link
// conditions and numbers.

import type { Json } from "./reducer";

// RFC 3339 -> microseconds since the epoch. Microseconds, not nanoseconds: lab events carry 9
// digits and log records 6, and a nanosecond count would exceed 2^53. NaN when malformed.
export function parseTimestampUs(ts: unknown): number {
  if (typeof ts !== "string") return NaN;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts.trim());
  if (!m) return NaN;
  const secondsMs = Date.parse(m[1] + m[3]);
  if (Number.isNaN(secondsMs)) return NaN;
  const frac = (m[2] ?? "").slice(0, 6).padEnd(6, "0");
  return secondsMs * 1000 + Number(frac);
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

// "12:00:01.123456" in UTC (the files are UTC; showing the date on every line wastes width).
export function formatTimeUs(us: number): string {
  if (!Number.isFinite(us)) return "?";
  const d = new Date(Math.floor(us / 1000));
  const micro = ((us % 1_000_000) + 1_000_000) % 1_000_000;
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(micro, 6)}`;
}

export function formatDateTimeUs(us: number): string {
  if (!Number.isFinite(us)) return "?";
  const d = new Date(Math.floor(us / 1000));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${formatTimeUs(us)}Z`;
}

// "+1.234567s" relative to a base.
export function formatRelativeUs(us: number, baseUs: number): string {
  if (!Number.isFinite(us) || !Number.isFinite(baseUs)) return "?";
  const d = (us - baseUs) / 1e6;
  return `${d < 0 ? "-" : "+"}${Math.abs(d).toFixed(6)}s`;
}

// The mode shown in a badge: the preset name, or "custom" for {"custom": {...}}.
export function modeName(v: Json | undefined): string {
  if (v === undefined || v === null) return "none";
  if (typeof v === "string") return v;
  if (typeof v === "object" && !Array.isArray(v) && "custom" in v) return "custom";
  return JSON.stringify(v);
}

const limitUnits: Record<string, (v: number) => string> = {
  latency_ms: (v) => `${v} ms`,
  jitter_ms: (v) => `±${v} ms`,
  loss_pct: (v) => `${v}% loss`,
  rate_kbit: (v) => (v >= 1000 ? `${+(v / 1000).toFixed(2)} Mbit/s` : `${v} kbit/s`),
  reorder_pct: (v) => `${v}% reorder`,
  duplicate_pct: (v) => `${v}% dup`,
  corrupt_pct: (v) => `${v}% corrupt`,
  queue_limit_pkts: (v) => `queue ${v}`,
};

// A one-line summary of a LinkCondition: the preset name, or the non-zero limits of a manual one.
export function conditionSummary(c: Json | undefined): string {
  if (c === undefined || c === null) return "none";
  if (typeof c === "string") return c;
  if (typeof c !== "object" || Array.isArray(c)) return JSON.stringify(c);
  const limits = "manual" in c && c.manual && typeof c.manual === "object" && !Array.isArray(c.manual) ? c.manual : c;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v === "number" && v !== 0 && k in limitUnits) parts.push(limitUnits[k](v));
    else if (k === "burst_loss" && v) parts.push("burst loss");
    else if (k === "rate_trace" && v) parts.push(`trace ${String(v)}`);
    else if (k === "distribution" && v && v !== "uniform") parts.push(String(v));
  }
  return parts.length ? parts.join(", ") : "lan";
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function formatInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "?";
}

// A field value as written by the §13.4 text format: strings quoted, everything else as JSON.
export function fieldValue(v: unknown, quoteStrings = true): string {
  if (typeof v === "string") return quoteStrings ? JSON.stringify(v) : v;
  if (v === undefined) return "";
  return JSON.stringify(v);
}
