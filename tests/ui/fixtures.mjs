// A hand-made invocation with a file of every log kind, for the screenshot and viewer tests:
//   <base>/sim-260305-120000/big    20 routers, 60 devices (ui/dev/labgen.mjs), tracing JSON and
//                                    ANSI logs, a text log with _events:: lines, qlog, JSON, results
//   <base>/sim-260305-120000/small  a small lab with results
//   <base>/sim-260305-120000/combined-results.json
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SOURCE_DIR } from "./driver.mjs";

const { generateLab, writeRun } = await import(join(SOURCE_DIR, "ui/dev/labgen.mjs"));

export const INVOCATION = "sim-260305-120000";
const T0 = Date.UTC(2026, 2, 5, 12, 0, 0);
const ts6 = (ms) => new Date(T0 + ms).toISOString().replace(/Z$/, `${String((ms * 37) % 1000).padStart(3, "0")}Z`); // 6 digits, as logs are

function tracing(level, target, message, fields = {}, spans = [], ms = 0) {
  const rec = { timestamp: ts6(ms), level, fields: { message, ...fields }, target };
  if (spans.length) {
    rec.span = spans[spans.length - 1];
    rec.spans = spans;
  }
  return JSON.stringify(rec);
}

const C = { dim: "\x1b[2m", bold: "\x1b[1m", italic: "\x1b[3m", reset: "\x1b[0m", red: "\x1b[31m", yellow: "\x1b[33m", green: "\x1b[32m", blue: "\x1b[34m", magenta: "\x1b[35m" };
const LEVEL_COLOUR = { ERROR: C.red, WARN: C.yellow, INFO: C.green, DEBUG: C.blue, TRACE: C.magenta };

// The §13.4 ANSI rendering of one record.
function ansi(level, target, message, fields = {}, spans = [], ms = 0) {
  let out = `${C.dim}${ts6(ms)}${C.reset} ${LEVEL_COLOUR[level]}${level.padStart(5)}${C.reset}`;
  if (spans.length) {
    out += " ";
    for (const { name, ...f } of spans) {
      out += `${C.bold}${name}${C.reset}`;
      const keys = Object.keys(f);
      if (keys.length) out += `${C.bold}{${C.reset}${keys.map((k) => `${C.italic}${k}${C.reset}${C.dim}=${C.reset}${JSON.stringify(f[k])}`).join(" ")}${C.bold}}${C.reset}`;
      out += `${C.dim}:${C.reset}`;
    }
  }
  out += ` ${C.dim}${target}${C.reset}${C.dim}:${C.reset} ${message}`;
  for (const [k, v] of Object.entries(fields)) out += ` ${C.italic}${k}${C.reset}${C.dim}=${C.reset}${typeof v === "string" ? JSON.stringify(v) : v}`;
  return out;
}

function clientLogs() {
  const spans = [{ name: "connect", peer: "server01" }, { name: "handshake", attempt: 1 }];
  const recs = [
    ["INFO", "app::main", "starting client", { version: "1.2.0" }, [], 1200],
    ["DEBUG", "app::net", "resolving", { host: "server01" }, spans.slice(0, 1), 1210],
    ["INFO", "app::net", "connected", { rtt_ms: 21.5 }, spans, 1250],
    ["WARN", "app::net", "retransmission", { seq: 17, retries: 2 }, spans, 1400],
    ["TRACE", "app::io", "read", { bytes: 1420 }, spans, 1401],
    ["ERROR", "app::net", "connection reset by peer", { peer: "10.3.0.2:7000" }, spans, 1800],
    ["INFO", "app::_events::TransferDone", "", { bytes: 5000000, duration_ms: 812 }, [], 2000],
  ];
  for (let i = 0; i < 40; i++) recs.push(["DEBUG", "app::io", "chunk", { n: i, bytes: 64000 }, spans, 1500 + i * 7]);
  recs.sort((a, b) => a[5] - b[5]);
  return {
    jsonl: recs.map((r) => tracing(...r)).join("\n") + "\n",
    ansi: recs.map((r) => ansi(...r)).join("\n") + "\n",
    events: JSON.stringify({ bytes: 5000000, duration_ms: 812, kind: "TransferDone", timestamp: ts6(2000) }) + "\n",
  };
}

function qlog() {
  const rs = "\x1e";
  const recs = [{ qlog_version: "0.4", qlog_format: "JSON-SEQ", file_schema: "urn:ietf:params:qlog:file:sequential", trace: { vantage_point: { type: "client" } } }];
  const names = ["transport:packet_sent", "transport:packet_received", "recovery:metrics_updated", "transport:parameters_set"];
  for (let i = 0; i < 30; i++) recs.push({ time: i * 1.25, name: names[i % 4], data: { packet_number: i, length: 1200 + (i % 3) * 50 } });
  return recs.map((r) => rs + JSON.stringify(r) + "\n").join("");
}

// About 450 KiB of records, more than the 256 KiB the viewer loads first.
export const BIG_LOG_LINES = 3000;
function bigTracingLog() {
  const lines = [];
  for (let i = 0; i < BIG_LOG_LINES; i++) lines.push(tracing(i % 10 ? "DEBUG" : "INFO", "app::bulk", `line ${i}`, { i, pad: "x".repeat(60) }, [{ name: "bulk", round: 1 }], 3000 + i));
  return lines.join("\n") + "\n";
}

export function writeShowcase(base) {
  const inv = join(base, INVOCATION);
  const big = generateLab({ routers: 20, devices: 60, label: "big-lab" });
  big.state.status = "stopped";
  const logs = clientLogs();
  const results = (sim, steps) => JSON.stringify({ sim, steps }, null, 2) + "\n";
  const bigSteps = [
    { id: "iperf-tcp", duration: "2.003", up_bytes: null, down_bytes: "262144000", latency_ms: null },
    { id: "iperf-udp", duration: "2000000", up_bytes: "12500000", down_bytes: null, latency_ms: null },
    { id: "ping", duration: null, up_bytes: null, down_bytes: null, latency_ms: "21.4" },
  ];
  writeRun(join(inv, "big"), big, {
    "device.laptop002.tracing.jsonl": logs.jsonl,
    "device.laptop002.tracing.log": logs.ansi,
    "device.laptop002.events.jsonl": logs.events,
    "device.laptop002.quic.qlog": qlog(),
    "router.home01.tracing.log": `${ansi("INFO", "patchbay::nat", "mapping created", { ext: "198.18.0.14:40001" }, [], 900)}\n${ansi("INFO", "patchbay::_events::RouterAdvertisement", "", { prefix: "fd00:1::/64" }, [], 950)}\n`,
    "device.server01.iperf-server.stdout.log": "-----------------------------------------------------------\nServer listening on 5201 (test #1)\n-----------------------------------------------------------\nAccepted connection from 10.3.0.2, port 40122\n",
    "sim.json": JSON.stringify({ sim: "big", status: "ok", runtime_ms: 5120, setup: { routers: 20, devices: 60, steps: 3 }, logs: [], error: null }, null, 2) + "\n",
    "results.json": results("big", bigSteps),
    "device.tv003.tracing.jsonl": bigTracingLog(),
  });
  const small = generateLab({ routers: 4, devices: 5, label: "small-lab" });
  const smallSteps = [{ id: "ping", duration: null, up_bytes: null, down_bytes: null, latency_ms: "100.8" }];
  writeRun(join(inv, "small"), small, { "results.json": results("small", smallSteps) });
  mkdirSync(inv, { recursive: true });
  writeFileSync(
    join(inv, "combined-results.json"),
    JSON.stringify({ runs: [{ run: INVOCATION, sim_dir: "big", sim: "big", steps: bigSteps }, { run: INVOCATION, sim_dir: "small", sim: "small", steps: smallSteps }] }, null, 2) + "\n",
  );
  return { invocation: INVOCATION, big: `${INVOCATION}/big`, small: `${INVOCATION}/small`, bigDir: join(inv, "big") };
}
