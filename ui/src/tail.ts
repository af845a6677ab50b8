// Follows one file of a run: the last 256 KiB first (a Range request on /files/), then the bytes
// appended after it (/logs/{path}?after=BYTES), delivered as complete lines.

import { api } from "./api";
import { splitLines } from "./logparse";

export const TAIL_BYTES = 256 * 1024;

export class FileTail {
  truncated = false; // older lines exist that were not loaded
  private offset = 0;
  private decoder = new TextDecoder();
  private rest = "";
  private timer: number | undefined;
  private stopped = false;
  private busy = false;

  constructor(
    readonly run: string,
    readonly path: string,
    private readonly onLines: (lines: string[]) => void,
    private readonly intervalMs: () => number = () => 1000,
  ) {}

  async start(): Promise<void> {
    const { bytes, start, end } = await api.fileTail(this.run, this.path, TAIL_BYTES);
    if (this.stopped) return;
    this.offset = end;
    this.truncated = start > 0;
    let text = this.decoder.decode(bytes, { stream: true });
    // The range may start inside a line (and inside a UTF-8 sequence): drop that first fragment.
    if (this.truncated) text = text.slice(text.indexOf("\n") + 1);
    this.feed(text);
    this.schedule();
  }

  private feed(text: string): void {
    const { lines, rest } = splitLines(this.rest + text);
    this.rest = rest;
    if (lines.length) this.onLines(lines);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = window.setTimeout(() => void this.poll(), this.intervalMs());
  }

  async poll(): Promise<void> {
    if (this.stopped || this.busy) return;
    this.busy = true;
    try {
      const bytes = await api.logAfter(this.run, this.path, this.offset);
      if (!this.stopped && bytes.length) {
        this.offset += bytes.length;
        this.feed(this.decoder.decode(bytes, { stream: true }));
      }
    } catch {
      // Transient (server restart, file rotated away): the next poll tries again.
    } finally {
      this.busy = false;
      window.clearTimeout(this.timer);
      this.schedule();
    }
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
  }
}
