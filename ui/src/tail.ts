// Follows one file of a run: the last 256 KiB first (a Range request on /files/), then the bytes
// appended after it (/logs/{path}?after=BYTES), delivered as complete lines.
//
// Every tail of the page shares one scheduler with at most two requests in flight, taken
// round-robin: the browser allows six connections per host and two are held by the SSE streams,
// so a Timeline following a thousand nodes must not queue ahead of the Logs and Perf requests.

import { api } from "./api";
import { splitLines } from "./logparse";
import { onPageVisibility, pageVisible } from "./visibility";

export const TAIL_BYTES = 256 * 1024;
export const MAX_IN_FLIGHT = 2;

// Runs queued steps, at most `limit` at a time, in the order they were queued (a tail that was
// just served queues at the back, so a thousand tails take turns). While the page is hidden no
// step starts; they wait in the queue, in order, until it is shown.
export class PollScheduler {
  private queue: (() => Promise<void>)[] = [];
  private inFlight = 0;
  peak = 0; // the most steps that ever ran at once (for tests)

  constructor(private readonly limit = MAX_IN_FLIGHT) {
    onPageVisibility((visible) => visible && this.pump());
  }

  enqueue(step: () => Promise<void>): void {
    this.queue.push(step);
    this.pump();
  }

  // Drops a queued step that has not started (a stopped tail).
  cancel(step: () => Promise<void>): void {
    const i = this.queue.indexOf(step);
    if (i >= 0) this.queue.splice(i, 1);
  }

  get pending(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.inFlight < this.limit && this.queue.length && pageVisible()) {
      const step = this.queue.shift()!;
      this.inFlight++;
      this.peak = Math.max(this.peak, this.inFlight);
      void step()
        .catch(() => undefined)
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}

export const scheduler = new PollScheduler();

// The text of the first request's bytes that holds whole lines only. The Range asks for one byte
// more than TAIL_BYTES, so when the window starts exactly at a line boundary that byte is the
// previous line's '\n' and no good line is lost; otherwise everything up to the first '\n' is a
// fragment (possibly of a UTF-8 sequence). Without any '\n' the whole window is one fragment and
// `inLine` says the next bytes still belong to it.
export function firstWindow(bytes: Uint8Array, start: number): { skip: number; inLine: boolean } {
  if (start === 0) return { skip: 0, inLine: false };
  const nl = bytes.indexOf(10);
  if (nl < 0) return { skip: bytes.length, inLine: true };
  return { skip: nl + 1, inLine: false };
}

export interface TailOptions {
  intervalMs?: () => number;
  // True once the file can no longer grow (the run stopped): the tail then ends at the first poll
  // that finds no new bytes.
  finished?: () => boolean;
}

export class FileTail {
  truncated = false; // older lines exist that were not loaded
  done = false; // stopped, or the file is complete
  private offset = 0;
  private decoder = new TextDecoder();
  private rest = "";
  private inLine = false; // still inside the fragment the first window cut
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private paused = false;
  private started = false; // the first window arrived
  private polling = false;
  private readonly step = () => this.poll();

  constructor(
    readonly run: string,
    readonly path: string,
    private readonly onLines: (lines: string[]) => void,
    private readonly opts: TailOptions = {},
  ) {}

  // Resolves once the first window was delivered (through the shared scheduler).
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      scheduler.enqueue(async () => {
        try {
          await this.first();
          resolve();
        } catch (e) {
          this.done = true;
          reject(e);
        }
      });
    });
  }

  private async first(): Promise<void> {
    if (this.stopped) return;
    const { bytes, start, end } = await api.fileTail(this.run, this.path, TAIL_BYTES + 1);
    if (this.stopped) return;
    this.offset = end;
    this.truncated = start > 0;
    const { skip, inLine } = firstWindow(bytes, start);
    this.inLine = inLine;
    this.feed(bytes.subarray(skip));
    this.schedule();
  }

  private feed(bytes: Uint8Array): void {
    if (this.inLine) {
      const nl = bytes.indexOf(10);
      if (nl < 0) return;
      bytes = bytes.subarray(nl + 1);
      this.inLine = false;
    }
    const { lines, rest } = splitLines(this.rest + this.decoder.decode(bytes, { stream: true }));
    this.rest = rest;
    if (lines.length) this.onLines(lines);
  }

  private schedule(): void {
    this.started = true;
    if (this.stopped || this.paused) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      scheduler.enqueue(this.step);
    }, this.opts.intervalMs?.() ?? 1000);
  }

  // Stops polling until resume() (a hidden tab); the offset is kept, so nothing is read twice.
  pause(): void {
    this.paused = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    scheduler.cancel(this.step);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.started && !this.stopped && !this.polling) scheduler.enqueue(this.step);
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.paused) return;
    this.polling = true;
    try {
      await this.pollOnce();
    } finally {
      this.polling = false;
    }
    if (!this.stopped) this.schedule();
  }

  private async pollOnce(): Promise<void> {
    const finished = this.opts.finished?.() ?? false; // read before the request: no race with the last bytes
    try {
      const bytes = await api.logAfter(this.run, this.path, this.offset);
      if (this.stopped) return;
      if (bytes.length) {
        this.offset += bytes.length;
        this.feed(bytes);
      } else if (finished) {
        this.done = true;
        this.stopped = true;
      }
    } catch {
      // Transient (server restart, file rotated away): the next poll tries again.
    }
  }

  stop(): void {
    this.stopped = true;
    this.done = true;
    clearTimeout(this.timer);
    scheduler.cancel(this.step);
  }
}

// Whole-document kinds (JSON, qlog) do not parse from a window in their middle, so they are read
// from byte 0, up to WHOLE_MAX_BYTES (a larger file is refused with a message, not half-shown).
// While the file can still grow they are followed like a tail: appended bytes of a JSON-SEQ qlog
// are new records (mode "append"); a JSON document that grew was rewritten, so it is read again
// as a whole (mode "reload").
export const WHOLE_MAX_BYTES = 16 * 1024 * 1024;

export class TooLargeError extends Error {
  constructor(readonly path: string, readonly size: number) {
    super(`${path} is ${(size / 1048576).toFixed(1)} MiB, more than the ${WHOLE_MAX_BYTES / 1048576} MiB shown in the page`);
  }
}

export class DocumentTail {
  private offset = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private readonly step = () => this.poll();

  constructor(
    readonly run: string,
    readonly path: string,
    private readonly mode: "append" | "reload",
    // The whole text (replace = true) or what was appended to it.
    private readonly onText: (text: string, replace: boolean) => void,
    private readonly opts: TailOptions = {},
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      scheduler.enqueue(async () => {
        try {
          await this.load();
          this.schedule();
          resolve();
        } catch (e) {
          this.stopped = true;
          reject(e);
        }
      });
    });
  }

  private async load(): Promise<void> {
    const { bytes, total } = await api.fileHead(this.run, this.path, WHOLE_MAX_BYTES);
    if (total > WHOLE_MAX_BYTES) throw new TooLargeError(this.path, total);
    if (this.stopped) return;
    this.offset = bytes.length;
    this.onText(new TextDecoder().decode(bytes), true);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      scheduler.enqueue(this.step);
    }, this.opts.intervalMs?.() ?? 1000);
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    const finished = this.opts.finished?.() ?? false;
    try {
      const bytes = await api.logAfter(this.run, this.path, this.offset);
      if (this.stopped) return;
      if (!bytes.length) {
        if (finished) this.stopped = true;
      } else if (this.mode === "append" && this.offset + bytes.length <= WHOLE_MAX_BYTES) {
        this.offset += bytes.length;
        this.onText(new TextDecoder().decode(bytes), false);
      } else {
        await this.load();
      }
    } catch {
      // Transient, or grown past the limit: the next poll tries again (a reload that throws
      // TooLargeError keeps the text shown so far).
    }
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    scheduler.cancel(this.step);
  }
}
