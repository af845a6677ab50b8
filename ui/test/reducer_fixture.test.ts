// The shared reducer fixture (tests/fixtures/reducer): the page must turn events.jsonl into the
// same state.json as the library (tests/unit/reducer_fixture_test.cpp checks LabState::apply on
// the same files), reading lines exactly as LabEvent::from_json does.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { labEventFromLine } from "../src/labevent";
import { applyEvent, emptyState, type LabEvent } from "../src/reducer";

const dir = new URL("../../tests/fixtures/reducer/", import.meta.url);

function replay(): { state: ReturnType<typeof emptyState>; applied: LabEvent[]; skipped: string[] } {
  const lines = readFileSync(new URL("events.jsonl", dir), "utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop(); // the file's final newline ends a line
  const state = emptyState();
  const applied: LabEvent[] = [];
  const skipped: string[] = [];
  for (const line of lines) {
    const ev = labEventFromLine(line);
    if (!ev) {
      skipped.push(line);
      continue;
    }
    applyEvent(state, ev);
    applied.push(ev);
  }
  return { state, applied, skipped };
}

test("the fixture's events reduce to the fixture's state.json", () => {
  const expected = JSON.parse(readFileSync(new URL("state.json", dir), "utf8"));
  // Through JSON, as the page and the library would serialise it.
  assert.deepStrictEqual(JSON.parse(JSON.stringify(replay().state)), expected);
});

test("the fixture's malformed lines are skipped, as LabEvent::from_json rejects them", () => {
  const { applied, skipped } = replay();
  assert.equal(skipped.length, 17, skipped.join("\n"));
  for (const line of skipped) assert.ok(line === "" || /ghost|"shadowed"/.test(line) || line === "not json at all" || line === "[1,2,3]", line);
  assert.equal(applied.length, 68);
});
