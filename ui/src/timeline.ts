// The Timeline tab: one column per node, one row per event in time order. Sources (SPEC 14.2):
// the lab's events.jsonl as node `_lab`, every per-node `.events.jsonl`, and `_events::<Kind>`
// lines in the text logs of nodes that write no JSON logs. Files are tailed while the tab is open.

import type { LogFile } from "./api";
import { clear, h } from "./dom";
import { formatDateTimeUs, formatRelativeUs, formatTimeUs, parseTimestampUs } from "./format";
import { detailText, parseEventLine, parseTextEvent, type TimelineEvent } from "./logparse";
import type { RunSession } from "./session";
import { FileTail } from "./tail";

export const MAX_EVENTS = 20_000;

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

export class TimelineView {
  readonly el: HTMLElement;
  private events: TimelineEvent[] = [];
  private tails = new Map<string, FileTail>();
  private table = h("div", { class: "timeline-scroll" });
  private panel = h("aside", { class: "detail-panel timeline-detail hidden" });
  private countEl = h("span", { class: "muted count" });
  private query = "";
  private showCounters = false;
  private relative = true;
  private active = false;
  private timer: number | undefined;
  private selected: TimelineEvent | null = null;
  private unsub: () => void;

  constructor(
    private readonly session: RunSession,
    private readonly jump: (node: string, ts: string) => void,
  ) {
    const filter = h("input", { type: "search", class: "filter-input", placeholder: "filter kind, node or fields…" });
    filter.addEventListener("input", () => {
      this.query = filter.value.trim().toLowerCase();
      this.render();
    });
    const counters = h("input", { type: "checkbox" });
    counters.addEventListener("change", () => {
      this.showCounters = counters.checked;
      this.render();
    });
    const tsBtn = h("button", { class: "btn ts-toggle" }, "relative time");
    tsBtn.addEventListener("click", () => {
      this.relative = !this.relative;
      tsBtn.textContent = this.relative ? "relative time" : "absolute time";
      this.render();
    });
    this.el = h(
      "div",
      { class: "timeline" },
      h("div", { class: "timeline-main" }, h("div", { class: "viewer-tools" }, filter, h("label", { class: "check", title: "packet_counters lab events (frequent)" }, counters, "packet counters"), tsBtn, this.countEl), this.table),
      this.panel,
    );
    this.unsub = session.onLogs(() => {
      if (this.active) this.syncSources();
    });
  }

  activate(): void {
    this.active = true;
    this.syncSources();
    this.render();
  }

  deactivate(): void {
    this.active = false;
  }

  private syncSources(): void {
    for (const src of timelineSources(this.session.logs)) {
      if (this.tails.has(src.file.path)) continue;
      const tail = new FileTail(this.session.run, src.file.path, (lines) => this.add(lines, src), () => (this.session.state.status === "stopped" ? 4000 : 1500));
      this.tails.set(src.file.path, tail);
      void tail.start().catch(() => this.tails.delete(src.file.path));
    }
  }

  private add(lines: string[], src: Source): void {
    for (const line of lines) {
      const ev = src.parse(src.node, line);
      if (ev) this.events.push(ev);
    }
    // Stable: events of one node keep their file order when timestamps tie.
    this.events.sort((a, b) => (a.tsUs === b.tsUs ? 0 : !Number.isFinite(a.tsUs) ? 1 : !Number.isFinite(b.tsUs) ? -1 : a.tsUs - b.tsUs));
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    if (this.timer === undefined)
      this.timer = window.setTimeout(() => {
        this.timer = undefined;
        this.render();
      }, 150);
  }

  private visible(): TimelineEvent[] {
    return this.events.filter((e) => {
      if (!this.showCounters && e.kind === "packet_counters") return false;
      if (!this.query) return true;
      return `${e.node} ${e.kind} ${detailText(e.fields)}`.toLowerCase().includes(this.query);
    });
  }

  private render(): void {
    if (!this.active) return;
    const events = this.visible();
    const nodes = [...new Set(this.events.map((e) => e.node))].sort((a, b) => (a === "_lab" ? -1 : b === "_lab" ? 1 : a < b ? -1 : a > b ? 1 : 0));
    this.countEl.textContent = `${events.length} events`;
    clear(this.table);
    if (!this.events.length) {
      this.table.append(h("p", { class: "muted pad" }, "no timeline events yet"));
      return;
    }
    const base = parseTimestampUs(this.session.state.created_at);
    const first = Number.isFinite(base) ? base : this.events[0].tsUs;
    const col = new Map(nodes.map((n, i) => [n, i]));
    const tbody = h("tbody");
    for (const ev of events) {
      const cells: Node[] = nodes.map(() => h("td", { class: "tl-empty" }));
      const cell = h(
        "button",
        { class: `timeline-event-cell${ev === this.selected ? " selected" : ""}`, style: `--kind-hue:${hue(ev.kind)}`, title: `${ev.kind} ${detailText(ev.fields)}` },
        h("span", { class: "tl-kind" }, ev.kind),
        h("span", { class: "tl-fields" }, preview(ev)),
      );
      cell.addEventListener("click", () => this.select(ev, cell));
      cells[col.get(ev.node)!] = h("td", null, cell);
      tbody.append(h("tr", null, h("td", { class: "log-ts tl-time", title: ev.ts }, this.relative ? formatRelativeUs(ev.tsUs, first) : formatTimeUs(ev.tsUs)), ...cells));
    }
    this.table.append(
      h(
        "table",
        { class: "timeline-table" },
        h("thead", null, h("tr", null, h("th", { class: "tl-time" }, "time"), nodes.map((n) => h("th", { class: n === "_lab" ? "tl-lab" : "" }, n)))),
        tbody,
      ),
    );
  }

  private select(ev: TimelineEvent, cell: HTMLElement): void {
    this.selected = ev;
    for (const c of this.table.querySelectorAll(".timeline-event-cell.selected")) c.classList.remove("selected");
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
    window.clearTimeout(this.timer);
  }
}

function preview(ev: TimelineEvent): string {
  const keys = ["name", "device", "router", "node", "addr", "bytes", "step_id", "exit_code"];
  const parts = keys.filter((k) => k in ev.fields).slice(0, 2).map((k) => `${k}=${typeof ev.fields[k] === "string" ? ev.fields[k] : JSON.stringify(ev.fields[k])}`);
  if (!parts.length) parts.push(...Object.entries(ev.fields).slice(0, 1).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`));
  const text = parts.join(" ");
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}
