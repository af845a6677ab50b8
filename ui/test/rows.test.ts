// Log viewer trimming (review item 2): one splice for the oldest rows, and search hits that keep
// pointing at the same rows afterwards.
import assert from "node:assert/strict";
import { test } from "node:test";
import { dropOldest, shiftHits } from "../src/rows";

test("dropOldest removes the excess from the front in one splice and returns it", () => {
  const rows = [0, 1, 2, 3, 4, 5, 6];
  assert.deepEqual(dropOldest(rows, 4), [0, 1, 2]);
  assert.deepEqual(rows, [3, 4, 5, 6]);
  assert.deepEqual(dropOldest(rows, 4), []);
  assert.deepEqual(rows, [3, 4, 5, 6]);
});

test("dropOldest of 50k rows over the limit stays one splice (no shift per row)", () => {
  const rows = Array.from({ length: 100_000 }, (_, i) => i);
  let shifts = 0;
  const shift = rows.shift.bind(rows);
  rows.shift = () => (shifts++, shift());
  assert.equal(dropOldest(rows, 50_000).length, 50_000);
  assert.equal(shifts, 0);
  assert.equal(rows[0], 50_000);
});

test("hits move down with the rows and the current hit stays on its row", () => {
  // rows 1, 4, 7, 9 matched; the current one is row 7 (index 2); 3 rows dropped.
  assert.deepEqual(shiftHits([1, 4, 7, 9], 2, 3), { hits: [1, 4, 6], current: 1 });
});

test("a current hit whose row was dropped becomes none", () => {
  assert.deepEqual(shiftHits([1, 4, 7], 0, 3), { hits: [1, 4], current: -1 });
  assert.deepEqual(shiftHits([1, 4, 7], -1, 5), { hits: [2], current: -1 });
});

test("nothing dropped keeps hits and current", () => {
  assert.deepEqual(shiftHits([2, 5], 1, 0), { hits: [2, 5], current: 1 });
});
