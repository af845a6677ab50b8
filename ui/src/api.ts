// The server routes of SPEC 14.1, typed. Run names may contain '/' (`sim-…/ping-e2e`): they are
// sent percent-encoded as one path segment; file paths are encoded per segment.

import { labEventFromLine } from "./labevent";
import type { LabEvent, LabState } from "./reducer";

export interface RunInfo {
  name: string;
  label: string | null;
  status: string | null;
  invocation: string | null;
}

export interface LogFile {
  node: string;
  kind: string;
  path: string;
}

export interface StepResult {
  id: string;
  duration?: string | null;
  up_bytes?: string | null;
  down_bytes?: string | null;
  latency_ms?: string | null;
}

export interface CombinedResults {
  runs: { run: string; sim_dir: string; sim: string; steps: StepResult[] }[];
}

const run = (name: string) => `/api/runs/${encodeURIComponent(name)}`;
const filePath = (p: string) => p.split("/").map(encodeURIComponent).join("/");

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new HttpError(url, res.status);
  return (await res.json()) as T;
}

export class HttpError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`${url}: HTTP ${status}`);
  }
}

export const api = {
  runs: () => getJson<RunInfo[]>("/api/runs"),
  state: (name: string) => getJson<LabState>(`${run(name)}/state`),
  logs: (name: string) => getJson<LogFile[]>(`${run(name)}/logs`),
  combined: (inv: string) => getJson<CombinedResults>(`/api/invocations/${encodeURIComponent(inv)}/combined-results`),
  fileUrl: (name: string, path: string) => `${run(name)}/files/${filePath(path)}`,
  logUrl: (name: string, path: string, after: number) => `${run(name)}/logs/${filePath(path)}?after=${after}`,
  eventsUrl: (name: string, after: number | null) => `${run(name)}/events${after === null ? "" : `?after=${after}`}`,

  // The whole file, or null when it does not exist.
  async fileText(name: string, path: string): Promise<string | null> {
    const res = await fetch(api.fileUrl(name, path), { cache: "no-store" });
    if (res.status === 404) return null;
    if (!res.ok) throw new HttpError(path, res.status);
    return res.text();
  },

  // The first `limit` bytes of a file and its total size.
  async fileHead(name: string, path: string, limit: number): Promise<{ bytes: Uint8Array; total: number }> {
    const res = await fetch(api.fileUrl(name, path), { cache: "no-store", headers: { Range: `bytes=0-${limit - 1}` } });
    if (res.status === 416) return { bytes: new Uint8Array(), total: 0 }; // empty file
    if (!res.ok) throw new HttpError(path, res.status);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const range = /bytes \d+-\d+\/(\d+)/.exec(res.headers.get("Content-Range") ?? "");
    return { bytes, total: res.status === 206 && range ? Number(range[1]) : bytes.length };
  },

  // The last `tail` bytes of a file. `start` is the byte offset of the first byte returned, `end`
  // the offset after the last one (where tailing continues).
  async fileTail(name: string, path: string, tail: number): Promise<{ bytes: Uint8Array; start: number; end: number }> {
    const res = await fetch(api.fileUrl(name, path), { cache: "no-store", headers: { Range: `bytes=-${tail}` } });
    if (res.status === 416) return { bytes: new Uint8Array(), start: 0, end: 0 }; // empty file
    if (!res.ok) throw new HttpError(path, res.status);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const range = /bytes (\d+)-(\d+)\/(\d+)/.exec(res.headers.get("Content-Range") ?? "");
    if (res.status === 206 && range) return { bytes, start: Number(range[1]), end: Number(range[2]) + 1 };
    return { bytes, start: 0, end: bytes.length };
  },

  // New bytes of a file from `after` on (the tail route).
  async logAfter(name: string, path: string, after: number): Promise<Uint8Array> {
    const res = await fetch(api.logUrl(name, path, after), { cache: "no-store" });
    if (!res.ok) throw new HttpError(path, res.status);
    return new Uint8Array(await res.arrayBuffer());
  },
};

// Events of a run over SSE from `after` on; EventSource reconnects by itself with Last-Event-ID.
export function subscribeEvents(name: string, after: number | null, onEvent: (ev: LabEvent) => void): () => void {
  const es = new EventSource(api.eventsUrl(name, after));
  es.onmessage = (m) => {
    // The server forwards every line with an unsigned opid; the reducer gets only the lines
    // LabEvent::from_json accepts (a bad timestamp or kind is skipped, as in state.json).
    const ev = labEventFromLine(m.data);
    if (ev) onEvent(ev);
  };
  return () => es.close();
}

export function subscribeRuns(onUpdate: () => void): () => void {
  const es = new EventSource("/api/runs/subscribe");
  es.onmessage = () => onUpdate();
  // After a server restart the set of runs may have changed while we were disconnected.
  es.onopen = () => onUpdate();
  return () => es.close();
}
