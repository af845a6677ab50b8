// Whole-document files (JSON, qlog) in the Logs tab: read from byte 0 with their total size, a
// file over the limit refused by name and size, a growing qlog followed by its appended bytes
// (a record may be split across polls), a JSON document re-read as a whole, and the scheduler
// starting nothing while the page is hidden.
import assert from "node:assert/strict";
import { test } from "node:test";

const files = new Map<string, Uint8Array>();
const enc = (s: string) => new TextEncoder().encode(s);
const visibility = new Set<() => void>();
const doc = {
  visibilityState: "visible",
  addEventListener: (_: string, f: () => void) => visibility.add(f),
  removeEventListener: (_: string, f: () => void) => visibility.delete(f),
};
(globalThis as Record<string, unknown>).document = doc;
globalThis.fetch = (async (input: string, init?: { headers?: Record<string, string> }) => {
  const url = new URL(input, "http://x");
  const path = decodeURIComponent(url.pathname.split("/").pop()!);
  const data = files.get(path) ?? new Uint8Array();
  const after = url.searchParams.get("after");
  if (after !== null) return new Response(data.slice(Number(after)).buffer as ArrayBuffer);
  const range = /bytes=0-(\d+)/.exec(init?.headers?.Range ?? "");
  if (!data.length) return new Response("", { status: 416 });
  const end = Math.min(data.length, Number(range![1]) + 1);
  return new Response(data.slice(0, end).buffer as ArrayBuffer, { status: 206, headers: { "Content-Range": `bytes 0-${end - 1}/${data.length}` } });
}) as typeof fetch;

const { DocumentTail, PollScheduler, TooLargeError, WHOLE_MAX_BYTES } = await import("../src/tail");

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond());
};

test("a qlog is read whole, then followed by its appended bytes", async () => {
  files.set("a.qlog", enc('\x1e{"qlog_format":"JSON-SEQ"}\n\x1e{"time":1,'));
  let text = "";
  const t = new DocumentTail("r", "a.qlog", "append", (s, replace) => (text = replace ? s : text + s), { intervalMs: () => 1 });
  await t.start();
  assert.equal(text, '\x1e{"qlog_format":"JSON-SEQ"}\n\x1e{"time":1,');
  files.set("a.qlog", enc('\x1e{"qlog_format":"JSON-SEQ"}\n\x1e{"time":1,"name":"x"}\n'));
  await until(() => text.endsWith('"name":"x"}\n'));
  assert.equal(text, '\x1e{"qlog_format":"JSON-SEQ"}\n\x1e{"time":1,"name":"x"}\n');
  t.stop();
});

test("a JSON document that grew is read again as a whole", async () => {
  files.set("r.json", enc('{"a":1}'));
  const seen: [string, boolean][] = [];
  const t = new DocumentTail("r", "r.json", "reload", (s, replace) => seen.push([s, replace]), { intervalMs: () => 1 });
  await t.start();
  files.set("r.json", enc('{"a":1,"b":2}'));
  await until(() => seen.length === 2);
  assert.deepEqual(seen, [['{"a":1}', true], ['{"a":1,"b":2}', true]]);
  t.stop();
});

test("a file over the limit is refused with its size", async () => {
  files.set("big.json", new Uint8Array(WHOLE_MAX_BYTES + 10));
  const t = new DocumentTail("r", "big.json", "reload", () => assert.fail("no text"));
  await assert.rejects(t.start(), (e) => e instanceof TooLargeError && /big\.json is 16\.0 MiB/.test(e.message));
});

test("a hidden page starts no step; shown again, the queue runs in order", async () => {
  const s = new PollScheduler(2);
  const ran: string[] = [];
  doc.visibilityState = "hidden";
  s.enqueue(async () => void ran.push("a"));
  s.enqueue(async () => void ran.push("b"));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(ran, []);
  doc.visibilityState = "visible";
  for (const f of visibility) f();
  await until(() => ran.length === 2);
  assert.deepEqual(ran, ["a", "b"]);
});
