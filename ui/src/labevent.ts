// One events.jsonl line as the C++ reader sees it (LabEvent::from_json in src/events/event.cpp)
// and RFC 3339 timestamps as parse_rfc3339 / format_rfc3339 handle them. The page must accept
// exactly the lines the library accepts, or its reduced state drifts from state.json: the server
// forwards every line with an unsigned opid, whatever its timestamp or kind.

import type { LabEvent } from "./reducer";

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

// parse_rfc3339 then format_rfc3339(…, 9): the instant in UTC with 9 fractional digits (digits
// past the ninth are dropped, as the C++ does), or null for anything it rejects.
export function normalizeRfc3339(text: string): string | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  let offsetMin = 0;
  if (m[8] !== "Z" && m[8] !== "z") {
    const hh = Number(m[8].slice(1, 3));
    const mm = Number(m[8].slice(4, 6));
    if (hh > 23 || mm > 59) return null;
    offsetMin = (hh * 60 + mm) * (m[8][0] === "-" ? -1 : 1);
  }
  if (y < 1678 || y > 2261) return null;
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (mo < 1 || mo > 12 || d < 1 || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return null;
  if (h > 23 || mi > 59 || s > 60) return null;
  // A leap second (:60) lands on the next minute's :00, as in the C++.
  const secs = Date.UTC(y, mo - 1, d, h, mi, s) / 1000 - offsetMin * 60;
  const nanos = (m[7] ?? "").slice(0, 9).padEnd(9, "0");
  return `${new Date(secs * 1000).toISOString().slice(0, 19)}.${nanos}Z`;
}

// The text of the top-level member `key` of a JSON object text (the last one, as JSON.parse keeps
// the last duplicate), or null. Only called on text JSON.parse accepted.
function topLevelToken(raw: string, key: string): string | null {
  let i = 0;
  const ws = () => {
    while (i < raw.length && " \t\r\n".includes(raw[i])) i++;
  };
  const skipString = () => {
    for (i++; i < raw.length && raw[i] !== '"'; i++) if (raw[i] === "\\") i++;
    i++;
  };
  let found: string | null = null;
  ws();
  if (raw[i] !== "{") return null;
  i++;
  for (;;) {
    ws();
    if (raw[i] !== '"') return found;
    const keyStart = i;
    skipString();
    const name = JSON.parse(raw.slice(keyStart, i)) as string;
    ws();
    i++; // ':'
    ws();
    const valueStart = i;
    let depth = 0;
    while (i < raw.length) {
      const c = raw[i];
      if (c === '"') {
        skipString();
        continue;
      }
      if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        if (depth === 0) break;
        depth--;
      } else if (c === "," && depth === 0) break;
      i++;
    }
    if (name === key) found = raw.slice(valueStart, i).trim();
    if (raw[i] === ",") i++;
  }
}

const U64_MAX = 18446744073709551615n;

// LabEvent::from_json: an object with an unsigned integer "opid", an RFC 3339 "timestamp" and a
// non-empty string "kind"; null otherwise. With the line's text, an opid written as 3.0 or 1e2 is
// refused as nlohmann::json refuses it (a float), although JSON.parse gives an integer.
export function labEventFromJson(j: unknown, raw?: string): LabEvent | null {
  if (typeof j !== "object" || j === null || Array.isArray(j)) return null;
  const o = j as Record<string, unknown>;
  if (typeof o.opid !== "number" || !Number.isInteger(o.opid) || o.opid < 0) return null;
  if (raw !== undefined) {
    const tok = topLevelToken(raw, "opid");
    if (tok === null || !/^-?\d+$/.test(tok) || BigInt(tok) > U64_MAX) return null;
  }
  if (typeof o.timestamp !== "string" || normalizeRfc3339(o.timestamp) === null) return null;
  if (typeof o.kind !== "string" || o.kind === "") return null;
  return o as LabEvent;
}

// One events.jsonl line (or SSE message); null when the library would skip it.
export function labEventFromLine(line: string): LabEvent | null {
  let j: unknown;
  try {
    j = JSON.parse(line);
  } catch {
    return null;
  }
  return labEventFromJson(j, line);
}
