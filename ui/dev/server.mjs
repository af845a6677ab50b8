#!/usr/bin/env node
// A small stand-in for `patchbay serve` (SPEC 14.1) for working on the UI without a C++ build:
//   node dev/server.mjs DIR [--port 7421] [--page dist/index.html]
// It serves the page from disk on every request (rebuild with `npm run build`, reload the
// browser) and implements the JSON/SSE routes over DIR. Plain node, no dependencies. The real
// server is the reference; this one is deliberately simple (polling, no inotify).
import { createServer } from "node:http";
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync, openSync, readSync, closeSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const port = Number(opt("--port", "7421"));
const page = resolve(opt("--page", join(dirname(fileURLToPath(import.meta.url)), "../dist/index.html")));
const base = resolve(args[0] ?? ".patchbay-work");
if (!existsSync(base)) {
  console.error(`dev server: ${base} does not exist`);
  process.exit(2);
}

// ---- discovery ----

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
}

function runInfo(dir, name, invocation) {
  const st = readJson(join(dir, "state.json")) ?? {};
  return { name, label: st.label ?? null, status: st.status ?? null, invocation };
}

function discover() {
  if (existsSync(join(base, "events.jsonl"))) return [runInfo(base, basename(base), null)];
  const runs = [];
  const walk = (dir, depth) => {
    if (depth > 3) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue; // symlinks (latest) are not followed
      const p = join(dir, e.name);
      if (existsSync(join(p, "events.jsonl"))) {
        const name = relative(base, p).split(sep).join("/");
        runs.push(runInfo(p, name, name.includes("/") ? name.split("/")[0] : null));
      } else walk(p, depth + 1);
    }
  };
  walk(base, 1);
  return runs.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

// ---- paths ----

function within(root, rel) {
  if (rel.startsWith("/") || rel.split("/").includes("..")) return null;
  const p = resolve(root, rel);
  try {
    const real = realpathSync(p);
    const realRoot = realpathSync(root);
    if (real !== realRoot && !real.startsWith(realRoot + sep)) return null;
  } catch {
    // Missing files are reported as 404 by the caller.
  }
  return p;
}

function runDir(name) {
  const runs = discover();
  const run = runs.find((r) => r.name === name);
  if (!run) return null;
  return runs.length === 1 && run.invocation === null && existsSync(join(base, "events.jsonl")) ? base : within(base, name);
}

// ---- log kinds (SPEC 14.1) ----

function head(path, n = 16384) {
  const fd = openSync(path, "r");
  const buf = Buffer.alloc(n);
  const len = readSync(fd, buf, 0, n, 0);
  closeSync(fd);
  return buf.subarray(0, len).toString("utf8");
}

function logKind(path) {
  const name = basename(path);
  if (name === "events.jsonl") return "lab_events";
  if (name.endsWith(".tracing.jsonl")) return "tracing_jsonl";
  const text = head(path);
  const lines = text.split("\n").filter((l) => l.trim());
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l.replace(/^\x1e/, ""));
    } catch {
      return undefined;
    }
  });
  if (name.endsWith(".qlog") || name.includes(".qlog-")) return "qlog";
  if (text.startsWith("\x1e") && parsed[0]?.file_schema?.includes?.("qlog:file")) return "qlog";
  if (parsed.length && parsed.every((p) => p && typeof p === "object" && "timestamp" in p && "level" in p && "target" in p)) return "tracing_jsonl";
  if (name.endsWith(".jsonl") || (parsed.length > 1 && parsed.every((p) => p !== undefined))) return "jsonl";
  if (name.endsWith(".json")) return "json";
  try {
    JSON.parse(text);
    return "json";
  } catch {
    // not one document
  }
  if (text.includes("\x1b[")) return "ansi_text";
  return "text";
}

function listLogs(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(dir, e.name);
    if (statSync(p).size === 0) continue;
    const m = /^(device|router)\.(.+?)\.(?:[^.]+(?:\.[^.]+)*)$/.exec(e.name);
    const node = m ? e.name.split(".")[1] : "_run";
    out.push({ node, kind: logKind(p), path: e.name });
  }
  const key = (x) => [x.node, x.kind, x.path].join("\u0000");
  return out.sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

// ---- responses ----

const types = (p) => (p.endsWith(".json") ? "application/json" : p.endsWith(".jsonl") ? "application/x-ndjson" : "text/plain; charset=utf-8");

function json(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

function sseStart(res) {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  const keep = setInterval(() => res.write(": keep-alive\n\n"), 15000);
  res.on("close", () => clearInterval(keep));
}

function serveEvents(req, res, dir, after) {
  sseStart(res);
  const path = join(dir, "events.jsonl");
  let offset = 0;
  let last = after;
  let prev = null;
  const pump = () => {
    let size;
    try {
      size = statSync(path).size;
    } catch {
      return;
    }
    if (size <= offset) return;
    const fd = openSync(path, "r");
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    closeSync(fd);
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) return;
    offset += end + 1; // only complete lines; the rest is read again next time
    for (const line of buf.subarray(0, end).toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      let ev;
      try {
        ev = JSON.parse(line);
      } catch {
        continue;
      }
      // A lab reusing the directory starts at opid 0 again: `after` no longer applies.
      if (prev !== null && ev.opid <= prev) last = null;
      prev = ev.opid;
      if (last !== null && ev.opid <= last) continue;
      res.write(`id: ${ev.opid}\ndata: ${line}\n\n`);
    }
  };
  pump();
  const timer = setInterval(pump, 300);
  res.on("close", () => clearInterval(timer));
}

function serveFile(req, res, path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return json(res, 404, { error: "not found" });
  }
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
  if (!range) {
    res.writeHead(200, { "Content-Type": types(path), "Content-Length": st.size });
    return createReadStream(path).pipe(res);
  }
  let start;
  let end;
  if (range[1] === "") {
    start = Math.max(0, st.size - Number(range[2]));
    end = st.size - 1;
  } else {
    start = Number(range[1]);
    end = range[2] === "" ? st.size - 1 : Math.min(Number(range[2]), st.size - 1);
  }
  if (st.size === 0 || start > end) {
    res.writeHead(416, { "Content-Range": `bytes */${st.size}` });
    return res.end();
  }
  res.writeHead(206, { "Content-Type": types(path), "Content-Length": end - start + 1, "Content-Range": `bytes ${start}-${end}/${st.size}` });
  createReadStream(path, { start, end }).pipe(res);
}

const subscribers = new Set();
let lastRuns = JSON.stringify(discover());
setInterval(() => {
  const now = JSON.stringify(discover());
  if (now === lastRuns) return;
  lastRuns = now;
  for (const res of subscribers) res.write("data: update\n\n");
}, 2000);

createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const parts = url.pathname.split("/").slice(1);
  try {
    if (url.pathname === "/") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      return res.end(readFileSync(page));
    }
    if (url.pathname === "/api/runs") return json(res, 200, discover());
    if (url.pathname === "/api/runs/subscribe") {
      sseStart(res);
      subscribers.add(res);
      res.on("close", () => subscribers.delete(res));
      return;
    }
    if (parts[0] === "api" && parts[1] === "invocations" && parts[3] === "combined-results") {
      const p = within(base, join(decodeURIComponent(parts[2]), "combined-results.json"));
      if (!p) return json(res, 403, { error: "forbidden" });
      return existsSync(p) ? serveFile(req, res, p) : json(res, 404, { runs: [] });
    }
    if (parts[0] === "api" && parts[1] === "runs" && parts.length >= 4) {
      const name = decodeURIComponent(parts[2]);
      if (name.split("/").includes("..") || name.startsWith("/")) return json(res, 403, { error: "forbidden" });
      const dir = runDir(name);
      if (!dir) return json(res, 404, { error: "run not found" });
      const rest = parts.slice(4).map(decodeURIComponent).join("/");
      switch (parts[3]) {
        case "state":
          return existsSync(join(dir, "state.json")) ? serveFile(req, res, join(dir, "state.json")) : json(res, 404, { error: "state.json not found" });
        case "events": {
          const q = url.searchParams.get("after");
          const lastId = req.headers["last-event-id"];
          const after = lastId !== undefined ? Number(lastId) : q !== null ? Number(q) : null;
          return serveEvents(req, res, dir, after);
        }
        case "logs": {
          if (!rest) return json(res, 200, listLogs(dir));
          const p = within(dir, rest);
          if (!p) return json(res, 403, { error: "forbidden" });
          if (!existsSync(p) || lstatSync(p).isDirectory()) return json(res, 404, { error: "not found" });
          const after = Number(url.searchParams.get("after") ?? 0);
          const size = statSync(p).size;
          res.writeHead(200, { "Content-Type": types(p) });
          if (after >= size) return res.end();
          return createReadStream(p, { start: after }).pipe(res);
        }
        case "files": {
          const p = within(dir, rest);
          if (!p) return json(res, 403, { error: "forbidden" });
          return serveFile(req, res, p);
        }
      }
    }
    json(res, 404, { error: "not found" });
  } catch (e) {
    json(res, 500, { error: String(e) });
  }
}).listen(port, "127.0.0.1", () => console.log(`patchbay: serving ${base} at http://127.0.0.1:${port}/ (ui dev server)`));
