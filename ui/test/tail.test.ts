// The tail's first window (review item: a line starting exactly at the window was dropped, a
// window without any newline was kept) and the shared poll scheduler (<= 2 requests at once,
// round-robin).
import assert from "node:assert/strict";
import { test } from "node:test";
import { firstWindow, PollScheduler } from "../src/tail";

const bytes = (s: string) => new TextEncoder().encode(s);

test("a window from the file's start keeps everything", () => {
  assert.deepEqual(firstWindow(bytes("a\nb\n"), 0), { skip: 0, inLine: false });
});

test("a window starting on the previous line's newline keeps the first whole line", () => {
  // The Range asked for one byte more: the extra byte is the '\n' before "good".
  assert.deepEqual(firstWindow(bytes("\ngood\nnext\n"), 100), { skip: 1, inLine: false });
});

test("a window starting inside a line drops that fragment", () => {
  assert.deepEqual(firstWindow(bytes("agment\ngood\n"), 100), { skip: 7, inLine: false });
});

test("a window without any newline is one fragment, continued by the next bytes", () => {
  assert.deepEqual(firstWindow(bytes("x".repeat(50)), 100), { skip: 50, inLine: true });
});

test("the scheduler runs at most two steps at once and serves queued steps in turn", async () => {
  const s = new PollScheduler(2);
  const order: string[] = [];
  let running = 0;
  let peak = 0;
  const step = (name: string) => async () => {
    running++;
    peak = Math.max(peak, running);
    order.push(name);
    await new Promise((r) => setTimeout(r, 5));
    running--;
  };
  const done = new Promise<void>((resolve) => {
    for (const n of ["a", "b", "c", "d", "e"]) s.enqueue(step(n));
    s.enqueue(async () => resolve());
  });
  await done;
  assert.equal(peak, 2);
  assert.equal(s.peak, 2);
  assert.deepEqual(order, ["a", "b", "c", "d", "e"]);
});

test("a cancelled step never runs; a failing step frees its slot", async () => {
  const s = new PollScheduler(1);
  const ran: string[] = [];
  const blocker = async () => {
    await new Promise((r) => setTimeout(r, 5));
    throw new Error("network");
  };
  const dropped = async () => void ran.push("dropped");
  s.enqueue(blocker);
  s.enqueue(dropped);
  s.cancel(dropped);
  await new Promise<void>((resolve) => s.enqueue(async () => (ran.push("after"), resolve())));
  assert.deepEqual(ran, ["after"]);
});
