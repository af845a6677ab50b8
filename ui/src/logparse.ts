// Parsing of the run's log files (pure, unit-tested): `.tracing.jsonl` records (SPEC 13.4), ANSI
// text (SGR colours, the §13.4 text layout), `_events::` lines in text logs (SPEC 13.5) and
// key=value rendering of event fields.

import { fieldValue, parseTimestampUs } from "./format";

export const LEVELS = ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"] as const;
export type Level = (typeof LEVELS)[number];

export interface SpanRec {
  name: string;
  fields: [string, unknown][];
}

export interface AnsiStyle {
  fg: string | null; // "1".."15" for the 16 palette colours, or a CSS colour
  bg: string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

export interface AnsiSegment {
  text: string;
  style: AnsiStyle;
}

export interface LogEntry {
  tsUs: number; // NaN when the line has no timestamp
  ts: string | null;
  level: Level | null;
  spans: SpanRec[];
  target: string | null;
  message: string;
  fields: [string, unknown][];
  // Text lines: the styled remainder after timestamp and level (or the whole line).
  segments: AnsiSegment[] | null;
  text: string; // plain text for search
  targetAt: [number, number] | null; // text lines: where the target is in `text` (with its ':')
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function asLevel(v: unknown): Level | null {
  const up = typeof v === "string" ? v.toUpperCase() : "";
  return (LEVELS as readonly string[]).includes(up) ? (up as Level) : null;
}

export function formatSpan(s: SpanRec): string {
  return s.fields.length ? `${s.name}{${s.fields.map(([k, v]) => `${k}=${fieldValue(v)}`).join(" ")}}` : s.name;
}

// `s1{z=3}:s2{y=2}`, the spans as the §13.4 text shows them.
export function formatSpans(spans: SpanRec[]): string {
  return spans.map(formatSpan).join(":");
}

export function formatFields(fields: [string, unknown][]): string {
  return fields.map(([k, v]) => `${k}=${fieldValue(v)}`).join(" ");
}

// One `.tracing.jsonl` line; null when it is not such a record (the viewer shows it raw).
export function parseTracingLine(line: string): LogEntry | null {
  let j: unknown;
  try {
    j = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObj(j)) return null;
  const f = isObj(j.fields) ? j.fields : {};
  const message = typeof f.message === "string" ? f.message : f.message === undefined ? "" : fieldValue(f.message);
  const fields = Object.entries(f).filter(([k]) => k !== "message");
  const spans: SpanRec[] = Array.isArray(j.spans)
    ? j.spans.filter(isObj).map((sp) => ({
        name: typeof sp.name === "string" ? sp.name : "?",
        fields: Object.entries(sp).filter(([k]) => k !== "name"),
      }))
    : [];
  const ts = typeof j.timestamp === "string" ? j.timestamp : null;
  const target = typeof j.target === "string" ? j.target : null;
  const entry: LogEntry = {
    tsUs: parseTimestampUs(ts),
    ts,
    level: asLevel(j.level),
    spans,
    target,
    message,
    fields,
    segments: null,
    text: "",
    targetAt: null,
  };
  entry.text = entryText(entry);
  return entry;
}

// The plain text of a structured entry, laid out like the §13.4 text format:
// `s1{z=3}:s2{y=2}: foo: message x=1`.
export function entryText(e: LogEntry): string {
  let out = "";
  if (e.spans.length) out += `${formatSpans(e.spans)}: `;
  if (e.target) out += `${e.target}: `;
  return out + [e.message, formatFields(e.fields)].filter((p) => p !== "").join(" ");
}

// ---- ANSI ----

const plain = (): AnsiStyle => ({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });

function xterm256(n: number): string {
  if (n < 16) return String(n);
  if (n < 232) {
    const v = [0, 95, 135, 175, 215, 255];
    const i = n - 16;
    return `rgb(${v[Math.floor(i / 36)]},${v[Math.floor(i / 6) % 6]},${v[i % 6]})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

function applySgr(style: AnsiStyle, params: number[]): AnsiStyle {
  const s = { ...style };
  if (params.length === 0) params = [0];
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p === 0) Object.assign(s, plain());
    else if (p === 1) s.bold = true;
    else if (p === 2) s.dim = true;
    else if (p === 3) s.italic = true;
    else if (p === 4) s.underline = true;
    else if (p === 22) s.bold = s.dim = false;
    else if (p === 23) s.italic = false;
    else if (p === 24) s.underline = false;
    else if (p >= 30 && p <= 37) s.fg = String(p - 30);
    else if (p >= 90 && p <= 97) s.fg = String(p - 90 + 8);
    else if (p === 39) s.fg = null;
    else if (p >= 40 && p <= 47) s.bg = String(p - 40);
    else if (p >= 100 && p <= 107) s.bg = String(p - 100 + 8);
    else if (p === 49) s.bg = null;
    else if (p === 38 || p === 48) {
      let colour: string | null = null;
      if (params[i + 1] === 5 && i + 2 < params.length) {
        colour = xterm256(params[i + 2]);
        i += 2;
      } else if (params[i + 1] === 2 && i + 4 < params.length) {
        colour = `rgb(${params[i + 2]},${params[i + 3]},${params[i + 4]})`;
        i += 4;
      }
      if (p === 38) s.fg = colour;
      else s.bg = colour;
    }
  }
  return s;
}

// Splits a line into styled segments. SGR sequences set the style; every other escape sequence
// (cursor movement, erase) is dropped.
export function parseAnsi(line: string, start: AnsiStyle = plain()): AnsiSegment[] {
  const out: AnsiSegment[] = [];
  let style = start;
  let last = 0;
  // eslint-disable-next-line no-control-regex
  const re = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b[^[]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) {
    if (m.index > last) out.push({ text: line.slice(last, m.index), style });
    last = re.lastIndex;
    if (m[2] === "m") style = applySgr(style, m[1] === "" ? [] : m[1].split(";").map((x) => Number(x) || 0));
  }
  if (last < line.length) out.push({ text: line.slice(last), style });
  return out;
}

// eslint-disable-next-line no-control-regex
export const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[^[]/g, "");

const TEXT_HEAD = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\s+(ERROR|WARN|INFO|DEBUG|TRACE)\s/;

// A text log line: when it starts with the §13.4 timestamp and level they become columns and the
// rest keeps its colours; any other line is shown as it is.
export function parseTextLine(line: string): LogEntry {
  const segments = parseAnsi(line);
  const plainText = segments.map((s) => s.text).join("");
  const head = TEXT_HEAD.exec(plainText);
  const entry: LogEntry = { tsUs: NaN, ts: null, level: null, spans: [], target: null, message: "", fields: [], segments, text: plainText, targetAt: null };
  if (!head) return entry;
  entry.ts = head[1];
  entry.tsUs = parseTimestampUs(head[1]);
  entry.level = head[2] as Level;
  entry.segments = dropPrefix(segments, head[0].length);
  entry.text = plainText.slice(head[0].length);
  // The target is the first `name: ` after the spans (span fields may hold anything, so skip them).
  const target = /(?:^|\s)(?:\S*\}: )?([\w:.-]+?): /.exec(entry.text);
  if (target) {
    entry.target = target[1];
    const at = target.index + target[0].length - target[1].length - 2;
    entry.targetAt = [at, at + target[1].length + 1];
  }
  return entry;
}

// The part [from, to) of a styled line, by character offsets of its plain text.
export function sliceSegments(segments: AnsiSegment[], from: number, to: number): AnsiSegment[] {
  const out: AnsiSegment[] = [];
  let pos = 0;
  for (const s of segments) {
    const a = Math.max(from, pos);
    const b = Math.min(to, pos + s.text.length);
    if (a < b) out.push({ text: s.text.slice(a - pos, b - pos), style: s.style });
    pos += s.text.length;
  }
  return out;
}

function dropPrefix(segments: AnsiSegment[], n: number): AnsiSegment[] {
  const out: AnsiSegment[] = [];
  for (const s of segments) {
    if (n >= s.text.length) {
      n -= s.text.length;
      continue;
    }
    out.push({ text: s.text.slice(n), style: s.style });
    n = 0;
  }
  return out;
}

// ---- timeline events ----

export interface TimelineEvent {
  node: string;
  tsUs: number;
  ts: string;
  kind: string;
  fields: Record<string, unknown>;
}

// A per-node `.events.jsonl` line (SPEC 13.5) or a lab event.
export function parseEventLine(node: string, line: string): TimelineEvent | null {
  let j: unknown;
  try {
    j = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObj(j) || typeof j.kind !== "string") return null;
  const ts = typeof j.timestamp === "string" ? j.timestamp : "";
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(j)) if (k !== "kind" && k !== "timestamp" && k !== "opid") fields[k] = v;
  return { node, tsUs: parseTimestampUs(ts), ts, kind: j.kind, fields };
}

// An `_events::<Kind>` record in a text log (nodes that write no JSON logs).
export function parseTextEvent(node: string, line: string): TimelineEvent | null {
  const text = stripAnsi(line);
  const m = /^(\S+)\s+(?:ERROR|WARN|INFO|DEBUG|TRACE)\s+(?:.*?\s)?(\S*_events::([A-Za-z0-9_]+)):(.*)$/.exec(text);
  if (!m) return null;
  const fields: Record<string, unknown> = {};
  const re = /([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S+)/g;
  let f: RegExpExecArray | null;
  while ((f = re.exec(m[4]))) {
    const raw = f[2];
    try {
      fields[f[1]] = JSON.parse(raw);
    } catch {
      fields[f[1]] = raw;
    }
  }
  return { node, tsUs: parseTimestampUs(m[1]), ts: m[1], kind: m[3], fields };
}

// `key=value` details of an event: bare strings stay bare, anything else is compact JSON.
export function detailText(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`)
    .join(" ");
}

// Splits decoded text into complete lines and the unfinished rest (kept until its newline).
export function splitLines(buffer: string): { lines: string[]; rest: string } {
  const parts = buffer.split("\n");
  const rest = parts.pop() ?? "";
  return { lines: parts.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l)), rest };
}
