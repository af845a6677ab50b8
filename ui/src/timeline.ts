// The Timeline tab: one column per node, one row per event in time order. Sources (SPEC 14.2):
// the lab's events.jsonl as node `_lab`, every per-node `.events.jsonl`, and `_events::<Kind>`
// lines in the text logs of nodes that write no JSON logs. Files are tailed while the tab is open.
//
// Built for a thousand nodes and MAX_EVENTS events: rows are fixed-height and only those in view
// exist in the DOM (one cell per row, placed in its node's column by CSS grid-column), new lines
// are merged in as sorted batches, and the tails share one poll scheduler (tail.ts).

import type { LogFile } from "./api";
import { clear, h } from "./dom";
import { formatDateTimeUs, formatRelativeUs, formatTimeUs, parseTimestampUs } from "./format";
import { detailText, parseEventLine, parseTextEvent, type TimelineEvent } from "./logparse";
import type { RunSession } from "./session";
import { FileTail } from "./tail";
import { mergeSorted, nodeOrder, rowWindow } from "./timeline_model";

export const MAX_EVENTS = 20_000;
export const ROW_H = 40; // px, matches .timeline-table tbody tr in styles.css
const HEAD_H = 32;
const TIME_W = 130;
const COL_W = 200;

interface Source {
  node: string;
  file: LogFile;
  parse: (node: string, line: string) => TimelineEvent | null;
}

// Which files feed the timeline, per SPEC 14.2.
export function timelineSources(files: LogFile[]): Source[] {
  const out: Source[] = [];
  const lab = files.find((f) => f.kind === "lab_events");
  if (lab) out.push({ node: "_lab", file: lab, parse: parseEventLine });
  const nodes = [...new Set(files.map((f) => f.node))].filter((n) => n !== "_run");
  for (const node of nodes) {
    const mine = files.filter((f) => f.node === node);
    const events = mine.find((f) => f.path.endsWith(".events.jsonl"));
    if (events) {
      out.push({ node, file: events, parse: parseEventLine });
      continue;
    }
    if (mine.some((f) => f.kind === "tracing_jsonl")) continue;
    for (const f of mine.filter((x) => x.kind === "ansi_text" || x.kind === "text")) out.push({ node, file: f, parse: parseTextEvent });
  }
  return out;
}

const hue = (s: string) => [...s].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7) % 360;

// The lower-cased text the filter searches, computed once per event.
const searchText = new WeakMap<TimelineEvent, string>();
function haystack(e: TimelineEvent): string {
  let t = searchText.get(e);
  if (t === undefined) searchText.set(e, (t = `${e.node} ${e.kind} ${detailText(e.fields)}`.toLowerCase()));
  return t;
}

export class TimelineView {
  readonly el: HTMLElement;
  private events: TimelineEvent[] = [];
  private shown: TimelineEvent[] = []; // events after the filter
  private nodes: string[] = [];
  private col = new Map<string, number>();
  private newNodes = new Set<string>();
  private tails = new Map<string, FileTail>();
  private scroller = h("div", { class: "timeline-scroll" });
  private tableEl = h("table", { class: "timeline-table" });
  private headRow = h("tr");
  private body = h("tbody");
  private rows = new Map<TimelineEvent, HTMLElement>(); // the rendered window
  private panel = h("aside", { class: "detail-panel timeline-detail hidden" });
  private countEl = h("span", { class: "muted count" });
  private query = "";
  private showCounters = false;
  private relative = true;
  private active = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private frame = 0;
  private selected: TimelineEvent | null = null;
  private unsub: () => void;

  constructor(
    private readonly session: RunSession,
    private readonly jump: (node: string, ts: string) => void,
  ) {
    const filter = h("input", { type: "search", class: "filter-input", placeholder: "filter kind, node or fields…" });
    filter.addEventListener("input", () => {
      this.query = filter.value.trim().toLowerCase();
      this.refilter();
    });
    const counters = h("input", { type: "checkbox" });
    counters.addEventListener("change", () => {
      this.showCounters = counters.checked;
      this.refilter();
    });
    const tsBtn = h("button", { class: "btn ts-toggle" }, "relative time");
    tsBtn.addEventListener("click", () => {
      this.relative = !this.relative;
      tsBtn.textContent = this.relative ? "relative time" : "absolute time";
      this.rebuildRows();
    });
    this.tableEl.append(h("thead", null, this.headRow), this.body);
    this.scroller.addEventListener("scroll", () => this.requestWindow(), { passive: true });
    this.el = h(
      "div",
      { class: "timeline" },
      h("div", { class: "timeline-main" }, h("div", { class: "viewer-tools" }, filter, h("label", { class: "check", title: "packet_counters lab events (frequent)" }, counters, "packet counters"), tsBtn, this.countEl), this.scroller),
      this.panel,
    );
    this.unsub = session.onLogs(() => {
      if (this.active) this.syncSources();
    });
    this.renderEmpty();
  }

  activate(): void {
    this.active = true;
    this.syncSources();
    for (const t of this.tails.values()) t.resume();
    this.refilter();
  }

  // A hidden tab polls nothing; its tails keep their offsets and resume where they stopped.
  deactivate(): void {
    this.active = false;
    for (const t of this.tails.values()) t.pause();
  }

  private syncSources(): void {
    const stopped = () => this.session.state.status === "stopped";
    for (const src of timelineSources(this.session.logs)) {
      if (this.tails.has(src.file.path)) continue;
      const tail = new FileTail(this.session.run, src.file.path, (lines) => this.add(lines, src), { intervalMs: () => (stopped() ? 4000 : 1500), finished: stopped });
      this.tails.set(src.file.path, tail);
      void tail.start().catch(() => undefined);
    }
  }

  private add(lines: string[], src: Source): void {
    const batch: TimelineEvent[] = [];
    for (const line of lines) {
      const ev = src.parse(src.node, line);
      if (ev) batch.push(ev);
    }
    if (!batch.length) return;
    this.events = mergeSorted(this.events, batch);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    // New columns wait for the next render too: a thousand sources arriving one by one must not
    // rebuild a thousand-column header a thousand times.
    if (!this.col.has(src.node)) this.newNodes.add(src.node);
    if (this.timer === undefined)
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.newNodes.size) {
          this.setNodes(nodeOrder([...this.nodes, ...this.newNodes]));
          this.newNodes.clear();
        }
        this.refilter();
      }, 150);
  }

  private setNodes(nodes: string[]): void {
    this.nodes = nodes;
    this.col = new Map(nodes.map((n, i) => [n, i]));
    const template = `${TIME_W}px repeat(${nodes.length}, ${COL_W}px)`;
    this.tableEl.style.setProperty("--tl-columns", template);
    this.tableEl.style.width = `${TIME_W + nodes.length * COL_W}px`;
    clear(this.headRow);
    this.headRow.append(h("th", { class: "tl-time" }, "time"), ...nodes.map((n) => h("th", { class: n === "_lab" ? "tl-lab" : "" }, n)));
    this.rebuildRows();
  }

  private refilter(): void {
    if (!this.active) return;
    this.shown = this.events.filter((e) => (this.showCounters || e.kind !== "packet_counters") && (!this.query || haystack(e).includes(this.query)));
    this.countEl.textContent = `${this.shown.length} events`;
    if (!this.events.length) return this.renderEmpty();
    if (!this.tableEl.isConnected) {
      clear(this.scroller);
      this.scroller.append(this.tableEl);
    }
    this.tableEl.style.height = `${HEAD_H + this.shown.length * ROW_H}px`;
    this.renderWindow();
  }

  private renderEmpty(): void {
    clear(this.scroller);
    this.scroller.append(h("p", { class: "muted pad" }, "no timeline events yet"));
  }

  private requestWindow(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderWindow();
    });
  }

  private rebuildRows(): void {
    for (const row of this.rows.values()) row.remove();
    this.rows.clear();
    if (this.active && this.events.length) this.renderWindow();
  }

  // Only the rows in view (and a screen above and below) exist; rows that stay in view are kept,
  // so a focused or selected cell survives new events.
  private renderWindow(): void {
    const [from, to] = rowWindow(this.scroller.scrollTop - HEAD_H, this.scroller.clientHeight || 800, ROW_H, this.shown.length);
    const keep = new Set(this.shown.slice(from, to));
    for (const [ev, row] of this.rows) {
      if (!keep.has(ev)) {
        row.remove();
        this.rows.delete(ev);
      }
    }
    const base = parseTimestampUs(this.session.state.created_at);
    const first = Number.isFinite(base) ? base : (this.events[0]?.tsUs ?? 0);
    for (let i = from; i < to; i++) {
      const ev = this.shown[i];
      let row = this.rows.get(ev);
      if (!row) {
        row = this.makeRow(ev, first);
        this.rows.set(ev, row);
        this.body.append(row);
      }
      row.style.top = `${HEAD_H + i * ROW_H}px`;
    }
  }

  private makeRow(ev: TimelineEvent, first: number): HTMLElement {
    const cell = h(
      "button",
      { class: `timeline-event-cell${ev === this.selected ? " selected" : ""}`, style: `--kind-hue:${hue(ev.kind)}`, title: `${ev.kind} ${detailText(ev.fields)}` },
      h("span", { class: "tl-kind" }, ev.kind),
      h("span", { class: "tl-fields" }, preview(ev)),
    );
    cell.addEventListener("click", () => this.select(ev, cell));
    const column = (this.col.get(ev.node) ?? 0) + 2;
    return h(
      "tr",
      null,
      h("td", { class: "log-ts tl-time", title: ev.ts }, this.relative ? formatRelativeUs(ev.tsUs, first) : formatTimeUs(ev.tsUs)),
      h("td", { class: "tl-cell", style: `grid-column:${column}` }, cell),
    );
  }

  private select(ev: TimelineEvent, cell: HTMLElement): void {
    this.selected = ev;
    for (const c of this.body.querySelectorAll(".timeline-event-cell.selected")) c.classList.remove("selected");
    cell.classList.add("selected");
    clear(this.panel);
    this.panel.classList.remove("hidden");
    const rows = Object.entries(ev.fields).map(([k, v]) => h("tr", null, h("th", null, k), h("td", { class: "mono" }, typeof v === "string" ? v : JSON.stringify(v))));
    this.panel.append(
      h("header", { class: "detail-head" }, h("span", { class: "kind-pill kind-event" }, ev.node), h("h2", null, ev.kind), h("button", { class: "icon-btn", title: "close", onclick: () => this.panel.classList.add("hidden") }, "×")),
      h(
        "div",
        { class: "detail-body" },
        h("section", { class: "detail-section" }, h("h3", null, "time"), h("p", { class: "mono" }, formatDateTimeUs(ev.tsUs)), h("p", { class: "muted mono small" }, ev.ts)),
        h("section", { class: "detail-section" }, h("h3", null, "fields"), rows.length ? h("table", { class: "kv" }, h("tbody", null, rows)) : h("p", { class: "muted" }, "none")),
        h("button", { class: "btn primary jump-btn", onclick: () => this.jump(ev.node, ev.ts) }, "jump to logs"),
      ),
    );
  }

  dispose(): void {
    this.unsub();
    for (const t of this.tails.values()) t.stop();
    clearTimeout(this.timer);
    cancelAnimationFrame(this.frame);
  }
}

function preview(ev: TimelineEvent): string {
  const keys = ["name", "device", "router", "node", "addr", "bytes", "step_id", "exit_code"];
  const parts = keys.filter((k) => k in ev.fields).slice(0, 2).map((k) => `${k}=${typeof ev.fields[k] === "string" ? ev.fields[k] : JSON.stringify(ev.fields[k])}`);
  if (!parts.length) parts.push(...Object.entries(ev.fields).slice(0, 1).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`));
  const text = parts.join(" ");
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}
