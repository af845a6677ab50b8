// Log parsing: tracing records (SPEC 13.4), ANSI text, `_events::` lines (13.5), qlog, timestamps.
import assert from "node:assert/strict";
import { test } from "node:test";
import { conditionSummary, formatRelativeUs, formatTimeUs, modeName, parseTimestampUs } from "../src/format";
import { detailText, entryText, parseAnsi, parseEventLine, parseTextEvent, parseTextLine, parseTracingLine, sliceSegments, splitLines, stripAnsi } from "../src/logparse";
import { parseQlog } from "../src/viewers";

const RECORD = '{"timestamp":"2026-03-05T12:00:00.000001Z","level":"INFO","fields":{"message":"","x":1},"target":"foo","span":{"name":"s2","y":2},"spans":[{"name":"s1","z":3},{"name":"s2","y":2}]}';

test("a tracing record renders as the §13.4 text: s1{z=3}:s2{y=2}: foo: x=1", () => {
  const e = parseTracingLine(RECORD)!;
  assert.equal(e.level, "INFO");
  assert.equal(e.target, "foo");
  assert.equal(e.text, "s1{z=3}:s2{y=2}: foo: x=1");
  assert.equal(e.tsUs, Date.UTC(2026, 2, 5, 12) * 1000 + 1);
});

test("messages come before fields and string span fields are quoted", () => {
  const e = parseTracingLine('{"timestamp":"2026-03-05T12:00:00.000000Z","level":"WARN","fields":{"message":"hello","count":42,"who":"a b"},"target":"a::b","spans":[{"name":"outer","x":1},{"name":"inner","y":"hi"}]}')!;
  assert.equal(entryText(e), 'outer{x=1}:inner{y="hi"}: a::b: hello count=42 who="a b"');
  assert.equal(parseTracingLine("not json"), null);
  assert.equal(parseTracingLine('{"timestamp":"x","level":"NOPE"}')!.level, null);
});

const ANSI = "\x1b[2m2026-03-05T12:00:00.000001Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[1ms1\x1b[0m\x1b[1m{\x1b[0m\x1b[3mz\x1b[0m\x1b[2m=\x1b[0m3\x1b[1m}\x1b[0m\x1b[2m:\x1b[0m\x1b[1ms2\x1b[0m\x1b[1m{\x1b[0m\x1b[3my\x1b[0m\x1b[2m=\x1b[0m2\x1b[1m}\x1b[0m\x1b[2m:\x1b[0m \x1b[2mfoo\x1b[0m\x1b[2m:\x1b[0m  \x1b[3mx\x1b[0m\x1b[2m=\x1b[0m1";

test("ANSI: SGR styles become segments, other escapes are dropped", () => {
  const segs = parseAnsi("a\x1b[1;31mb\x1b[22mc\x1b[0m\x1b[2Kd\x1b[38;5;196me\x1b[38;2;1;2;3mf");
  assert.deepEqual(segs.map((s) => s.text), ["a", "b", "c", "d", "e", "f"]);
  assert.equal(segs[1].style.bold, true);
  assert.equal(segs[1].style.fg, "1");
  assert.equal(segs[2].style.bold, false);
  assert.equal(segs[2].style.fg, "1");
  assert.equal(segs[3].style.fg, null);
  assert.equal(segs[4].style.fg, "rgb(255,0,0)");
  assert.equal(segs[5].style.fg, "rgb(1,2,3)");
  assert.equal(stripAnsi("\x1b[31mred\x1b[0m"), "red");
});

test("a §13.4 text line yields timestamp, level, target and keeps its colours", () => {
  const e = parseTextLine(ANSI);
  assert.equal(e.ts, "2026-03-05T12:00:00.000001Z");
  assert.equal(e.level, "INFO");
  assert.equal(e.target, "foo");
  const [a, b] = e.targetAt!;
  assert.equal(e.text.slice(a, b), "foo:");
  assert.equal(sliceSegments(e.segments!, 0, a).map((s) => s.text).join(""), "s1{z=3}:s2{y=2}: ");
  const plain = parseTextLine("just a line");
  assert.equal(plain.level, null);
  assert.equal(plain.text, "just a line");
});

test("_events:: lines in text logs become timeline events", () => {
  const ev = parseTextEvent("server", '2026-03-05T12:00:01.000002Z  INFO \x1b[2mpatchbay::_events::TcpEchoStarted\x1b[0m: \x1b[3maddr\x1b[0m=\"10.0.0.2:7000\" n=5');
  assert.deepEqual(ev, { node: "server", tsUs: Date.UTC(2026, 2, 5, 12, 0, 1) * 1000 + 2, ts: "2026-03-05T12:00:01.000002Z", kind: "TcpEchoStarted", fields: { addr: "10.0.0.2:7000", n: 5 } });
  assert.equal(parseTextEvent("x", "2026-03-05T12:00:01Z  INFO foo: bar"), null);
});

test("event lines: kind and fields without the header", () => {
  const ev = parseEventLine("_lab", '{"opid":3,"timestamp":"2026-03-05T12:00:00.123456789Z","kind":"router_added","name":"dc","nat":"none"}')!;
  assert.equal(ev.kind, "router_added");
  assert.equal(ev.tsUs, Date.UTC(2026, 2, 5, 12) * 1000 + 123456);
  assert.equal(detailText(ev.fields), "name=dc nat=none");
  assert.equal(detailText({ cmd: "ping -c 1", list: [1] }), 'cmd="ping -c 1" list=[1]');
  assert.equal(parseEventLine("x", "{}"), null);
});

test("timestamps: 9 digits truncate to microseconds; offsets; malformed is NaN", () => {
  assert.equal(parseTimestampUs("2026-03-05T12:00:00.123456789Z") % 1_000_000, 123456);
  assert.equal(parseTimestampUs("2026-03-05T13:00:00+01:00"), Date.UTC(2026, 2, 5, 12) * 1000);
  assert.ok(Number.isNaN(parseTimestampUs("yesterday")));
  assert.equal(formatTimeUs(Date.UTC(2026, 2, 5, 12, 0, 1) * 1000 + 5), "12:00:01.000005");
  assert.equal(formatRelativeUs(3_500_000, 1_000_000), "+2.500000s");
});

test("enum and condition formatting", () => {
  assert.equal(modeName("home"), "home");
  assert.equal(modeName({ custom: { mapping: "endpoint_independent" } }), "custom");
  assert.equal(modeName(null), "none");
  assert.equal(conditionSummary("wifi"), "wifi");
  assert.equal(conditionSummary({ latency_ms: 40, jitter_ms: 4, loss_pct: 0.5, rate_kbit: 20000 }), "40 ms, ±4 ms, 0.5% loss, 20 Mbit/s");
  assert.equal(conditionSummary({ manual: { latency_ms: 10 } }), "10 ms");
  assert.equal(conditionSummary(null), "none");
});

test("split lines keeps the unfinished rest", () => {
  assert.deepEqual(splitLines("a\r\nb\nc"), { lines: ["a", "b"], rest: "c" });
});

test("qlog: JSON-SEQ records and a JSON document with event_fields", () => {
  const seq = '\x1e{"qlog_version":"0.3","file_schema":"urn:ietf:params:qlog:file:sequential"}\n\x1e{"time":1.5,"name":"transport:packet_sent","data":{"n":1}}\n\x1e{"time":2,"name":"recovery:metrics_updated","data":{}}\n';
  assert.deepEqual(parseQlog(seq).map((e) => e.name), ["transport:packet_sent", "recovery:metrics_updated"]);
  const doc = JSON.stringify({ traces: [{ event_fields: ["relative_time", "category", "event", "data"], events: [[0, "transport", "packet_received", { a: 1 }]] }] });
  assert.deepEqual(parseQlog(doc), [{ time: 0, name: "transport:packet_received", data: { a: 1 } }]);
});
