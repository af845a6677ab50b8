// The Logs tab's file viewers, one per log kind (SPEC 14.1): an events table (lab_events, jsonl),
// log lines (tracing_jsonl, ansi_text, text), a collapsible JSON tree (json) and a filterable
// qlog table. Each viewer owns its toolbar controls and its scroll area.

import { clear, h } from "./dom";
import { dropOldest, shiftHits } from "./rows";
import { formatDateTimeUs, formatRelativeUs, formatTimeUs, parseTimestampUs } from "./format";
import {
  type AnsiSegment,
  detailText,
  formatFields,
  formatSpans,
  LEVELS,
  type Level,
  type LogEntry,
  parseEventLine,
  parseTextLine,
  parseTracingLine,
  sliceSegments,
} from "./logparse";

export const MAX_ENTRIES = 50_000;
export const JUMP_WINDOW_US = 2_000_000;

export interface ViewerContext {
  baseUs: () => number; // relative timestamps count from here (the lab's creation)
  relative: () => boolean;
}

export interface Viewer {
  toolbar: HTMLElement;
  body: HTMLElement;
  addLines(lines: string[]): void;
  // Whole-document viewers (wholeFileKinds): the document's text, or (replace = false) bytes
  // appended to it, which need not end at a line or record boundary.
  addText?(text: string, replace: boolean): void;
  // Highlights the entry at `us` (else the nearest within 2 s); false when there is none.
  jump?(us: number): boolean;
  refreshTimes?(): void;
}

// ---- shared bits ----

function tsText(us: number, ctx: ViewerContext): string {
  return ctx.relative() ? formatRelativeUs(us, ctx.baseUs()) : formatTimeUs(us);
}

function nearest(times: number[], us: number): number {
  let best = -1;
  let bestD = Infinity;
  times.forEach((t, i) => {
    const d = Math.abs(t - us);
    if (d < bestD) {
      best = i;
      bestD = d;
    }
  });
  return bestD <= JUMP_WINDOW_US ? best : -1;
}

function markJump(container: HTMLElement, el: HTMLElement): void {
  for (const old of container.querySelectorAll(".jump-hit")) old.classList.remove("jump-hit");
  el.classList.add("jump-hit");
  el.classList.remove("filtered");
  el.scrollIntoView({ block: "center" });
}

function styledSpans(segments: AnsiSegment[]): Node[] {
  return segments.map((s) => {
    const st = s.style;
    const cls = [st.bold && "ansi-bold", st.dim && "ansi-dim", st.italic && "ansi-italic", st.underline && "ansi-underline", st.fg && /^\d+$/.test(st.fg) && `ansi-fg-${st.fg}`, st.bg && /^\d+$/.test(st.bg) && `ansi-bg-${st.bg}`].filter(Boolean).join(" ");
    const style = [st.fg && !/^\d+$/.test(st.fg) ? `color:${st.fg}` : "", st.bg && !/^\d+$/.test(st.bg) ? `background:${st.bg}` : ""].filter(Boolean).join(";");
    return cls || style ? h("span", { class: cls || null, style: style || null }, s.text) : document.createTextNode(s.text);
  });
}

function filterInput(placeholder: string, onInput: (q: string) => void): HTMLInputElement {
  const input = h("input", { type: "search", class: "filter-input", placeholder });
  input.addEventListener("input", () => onInput(input.value.trim().toLowerCase()));
  return input;
}

// ---- events table (lab_events, jsonl) ----

export class EventsTable implements Viewer {
  toolbar: HTMLElement;
  body: HTMLElement;
  private tbody = h("tbody");
  private rows: { tsUs: number; el: HTMLElement; text: string; tsCell: HTMLElement }[] = [];
  private query = "";
  private countEl = h("span", { class: "muted count" });

  constructor(private readonly ctx: ViewerContext) {
    this.toolbar = h("div", { class: "viewer-tools" }, filterInput("filter kind or details…", (q) => this.filter(q)), this.countEl);
    this.body = h(
      "div",
      { class: "viewer-scroll" },
      h("table", { class: "grid events-table" }, h("thead", null, h("tr", null, h("th", { class: "col-time" }, "time"), h("th", { class: "col-kind" }, "kind"), h("th", null, "details"))), this.tbody),
    );
  }

  addLines(lines: string[]): void {
    const frag = document.createDocumentFragment();
    for (const line of lines) {
      if (!line.trim()) continue;
      const ev = parseEventLine("", line);
      if (!ev) {
        const tr = h("tr", { class: "log-entry event-row raw" }, h("td", { class: "log-ts" }), h("td"), h("td", { class: "mono" }, line));
        frag.append(tr);
        this.rows.push({ tsUs: NaN, el: tr, text: line.toLowerCase(), tsCell: tr.firstChild as HTMLElement });
        continue;
      }
      const details = detailText(ev.fields);
      const tsCell = h("td", { class: "log-ts", title: ev.ts }, tsText(ev.tsUs, this.ctx));
      const detailCell = h("td", { class: "details mono" }, details);
      const tr = h("tr", { class: "log-entry event-row", "data-kind": ev.kind }, tsCell, h("td", { class: "kind" }, h("span", { class: `kind-tag kind-${ev.kind}` }, ev.kind)), detailCell);
      tr.addEventListener("click", () => {
        // Expanded: the full record, pretty-printed.
        if (tr.classList.toggle("expanded")) {
          clear(detailCell);
          detailCell.append(h("pre", { class: "json-pre" }, JSON.stringify(ev.fields, null, 2)));
        } else {
          detailCell.textContent = details;
        }
      });
      const text = `${ev.kind} ${details}`.toLowerCase();
      if (this.query && !text.includes(this.query)) tr.classList.add("filtered");
      frag.append(tr);
      this.rows.push({ tsUs: ev.tsUs, el: tr, text, tsCell });
    }
    this.tbody.append(frag);
    this.trim();
    this.updateCount();
  }

  private trim(): void {
    for (const r of dropOldest(this.rows, MAX_ENTRIES)) r.el.remove();
  }

  private filter(q: string): void {
    this.query = q;
    for (const r of this.rows) r.el.classList.toggle("filtered", q !== "" && !r.text.includes(q));
    this.updateCount();
  }

  private updateCount(): void {
    const shown = this.query ? this.rows.filter((r) => !r.el.classList.contains("filtered")).length : this.rows.length;
    this.countEl.textContent = this.query ? `${shown} of ${this.rows.length} rows` : `${this.rows.length} rows`;
  }

  refreshTimes(): void {
    for (const r of this.rows) if (Number.isFinite(r.tsUs)) r.tsCell.textContent = tsText(r.tsUs, this.ctx);
  }

  jump(us: number): boolean {
    const i = nearest(this.rows.map((r) => r.tsUs), us);
    if (i < 0) return false;
    markJump(this.body, this.rows[i].el);
    return true;
  }
}

// ---- log lines (tracing_jsonl, ansi_text, text) ----

interface LineRow {
  entry: LogEntry;
  el: HTMLElement;
  tsEl: HTMLElement | null;
  lower: string; // entry.text lower-cased once, for every search over it
}

export class LogLines implements Viewer {
  toolbar: HTMLElement;
  body: HTMLElement;
  private rows: LineRow[] = [];
  private levels = new Set<Level>(LEVELS);
  private counts = new Map<Level, HTMLElement>();
  private query = "";
  private hits: number[] = [];
  private current = -1;
  private hitCount = h("span", { class: "muted count" });
  private follow = true;

  constructor(
    private readonly kind: string,
    private readonly ctx: ViewerContext,
  ) {
    const levelBtns = LEVELS.map((lv) => {
      const count = h("span", { class: "lvl-count" }, "0");
      this.counts.set(lv, count);
      const b = h("button", { class: `level-toggle on lt-${lv.toLowerCase()}`, title: `show ${lv} records`, "aria-pressed": "true" }, lv, count);
      b.addEventListener("click", () => {
        if (this.levels.has(lv)) this.levels.delete(lv);
        else this.levels.add(lv);
        b.classList.toggle("on", this.levels.has(lv));
        b.setAttribute("aria-pressed", String(this.levels.has(lv)));
        this.applyFilters();
      });
      return b;
    });
    const toggle = (label: string, cls: string) => {
      const cb = h("input", { type: "checkbox", checked: true });
      cb.addEventListener("change", () => this.body.classList.toggle(cls, !cb.checked));
      return h("label", { class: "check" }, cb, label);
    };
    const search = h("input", { type: "search", class: "filter-input", placeholder: "search…" });
    search.addEventListener("input", () => this.search(search.value));
    search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") this.step(ev.shiftKey ? -1 : 1);
    });
    const followCb = h("input", { type: "checkbox", checked: true });
    followCb.addEventListener("change", () => (this.follow = followCb.checked));
    this.toolbar = h(
      "div",
      { class: "viewer-tools" },
      h("div", { class: "level-toggles" }, levelBtns),
      toggle("spans", "hide-spans"),
      toggle("target", "hide-target"),
      h("label", { class: "check", title: "scroll to new lines as they arrive" }, followCb, "follow"),
      h("div", { class: "search-box" }, search, h("button", { class: "icon-btn", title: "previous match (Shift+Enter)", onclick: () => this.step(-1) }, "↑"), h("button", { class: "icon-btn", title: "next match (Enter)", onclick: () => this.step(1) }, "↓"), this.hitCount),
    );
    this.body = h("div", { class: "viewer-scroll log-lines" });
  }

  addLines(lines: string[]): void {
    const atBottom = this.body.scrollHeight - this.body.scrollTop - this.body.clientHeight < 40;
    const frag = document.createDocumentFragment();
    for (const line of lines) {
      if (!line.trim()) continue;
      const entry = (this.kind === "tracing_jsonl" ? parseTracingLine(line) : null) ?? parseTextLine(line);
      const row = this.render(entry);
      frag.append(row.el);
      this.rows.push(row);
      if (entry.level) this.bump(entry.level);
    }
    this.body.append(frag);
    const dropped = dropOldest(this.rows, MAX_ENTRIES);
    for (const r of dropped) r.el.remove();
    ({ hits: this.hits, current: this.current } = shiftHits(this.hits, this.current, dropped.length));
    if (this.query) this.search(this.query, true);
    if (this.follow && atBottom && !this.body.querySelector(".jump-hit")) this.body.scrollTop = this.body.scrollHeight;
  }

  private bump(lv: Level): void {
    const c = this.counts.get(lv)!;
    c.textContent = String(Number(c.textContent) + 1);
  }

  private render(e: LogEntry): LineRow {
    const lv = e.level?.toLowerCase() ?? "none";
    const el = h("div", { class: `log-entry lvl-${lv}` });
    let tsEl: HTMLElement | null = null;
    if (e.ts !== null) {
      tsEl = h("span", { class: "log-ts", title: formatDateTimeUs(e.tsUs) }, tsText(e.tsUs, this.ctx));
      el.append(tsEl, " ");
    }
    if (e.level) el.append(h("span", { class: `log-level level-${lv}` }, e.level), " ");
    if (e.segments === null) {
      // A structured record: spans, target, message, fields as the §13.4 text lays them out.
      if (e.spans.length) el.append(h("span", { class: "log-spans" }, `${formatSpans(e.spans)}:`), " ");
      if (e.target) el.append(h("span", { class: "log-target" }, `${e.target}:`), " ");
      const rest: Node[] = [];
      if (e.message) rest.push(h("span", { class: "log-msg" }, e.message));
      if (e.fields.length) {
        if (e.message) rest.push(document.createTextNode(" "));
        rest.push(h("span", { class: "log-fields" }, formatFields(e.fields)));
      }
      el.append(...rest);
    } else if (e.targetAt) {
      const [a, b] = e.targetAt;
      const spans = sliceSegments(e.segments, 0, a);
      if (spans.length) el.append(h("span", { class: "log-spans" }, styledSpans(spans)));
      el.append(h("span", { class: "log-target" }, styledSpans(sliceSegments(e.segments, a, b))));
      el.append(h("span", { class: "log-msg" }, styledSpans(sliceSegments(e.segments, b, Infinity))));
    } else {
      el.append(h("span", { class: "log-msg" }, styledSpans(e.segments)));
    }
    if (e.level && !this.levels.has(e.level)) el.classList.add("filtered");
    return { entry: e, el, tsEl, lower: e.text.toLowerCase() };
  }

  private applyFilters(): void {
    for (const r of this.rows) r.el.classList.toggle("filtered", !!r.entry.level && !this.levels.has(r.entry.level) && !r.el.classList.contains("jump-hit"));
    this.search(this.query, true);
  }

  private search(q: string, keepCurrent = false): void {
    const prev = this.hits[this.current];
    this.query = q;
    const needle = q.toLowerCase();
    this.hits = [];
    this.rows.forEach((r, i) => {
      const hit = needle !== "" && !r.el.classList.contains("filtered") && r.lower.includes(needle);
      r.el.classList.toggle("search-hit", hit);
      r.el.classList.remove("search-current");
      if (hit) this.hits.push(i);
    });
    this.current = keepCurrent && prev !== undefined ? this.hits.indexOf(prev) : -1;
    if (this.current < 0 && this.hits.length && !keepCurrent) this.current = 0;
    this.showCurrent(!keepCurrent);
  }

  private step(dir: number): void {
    if (!this.hits.length) return;
    this.current = (this.current + dir + this.hits.length) % this.hits.length;
    this.showCurrent(true);
  }

  private showCurrent(scroll: boolean): void {
    for (const el of this.body.querySelectorAll(".search-current")) el.classList.remove("search-current");
    const row = this.current >= 0 ? this.rows[this.hits[this.current]] : undefined;
    if (row) {
      row.el.classList.add("search-current");
      if (scroll) row.el.scrollIntoView({ block: "center" });
    }
    this.hitCount.textContent = this.query ? `${this.hits.length ? this.current + 1 : 0}/${this.hits.length}` : "";
  }

  refreshTimes(): void {
    for (const r of this.rows) if (r.tsEl) r.tsEl.textContent = tsText(r.entry.tsUs, this.ctx);
  }

  jump(us: number): boolean {
    const i = nearest(this.rows.map((r) => r.entry.tsUs), us);
    if (i < 0) return false;
    markJump(this.body, this.rows[i].el);
    return true;
  }
}

// ---- json ----

function jsonNode(key: string | null, v: unknown, depth: number): Node {
  const keyEl = key === null ? null : h("span", { class: "jt-key" }, `${key}: `);
  if (v === null || typeof v !== "object") {
    const cls = v === null ? "jt-null" : typeof v === "string" ? "jt-str" : typeof v === "number" ? "jt-num" : "jt-bool";
    return h("div", { class: "jt-leaf" }, keyEl, h("span", { class: cls }, JSON.stringify(v)));
  }
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
  const preview = Array.isArray(v) ? `[${entries.length}]` : `{${entries.length}}`;
  const details = h("details", { class: "jt-node", open: depth < 2 }, h("summary", null, keyEl, h("span", { class: "jt-preview" }, preview)));
  // Children are built when first opened: a large document stays cheap until explored.
  const fill = () => {
    if (details.dataset.filled) return;
    details.dataset.filled = "1";
    details.append(h("div", { class: "jt-children" }, entries.map(([k, x]) => jsonNode(k, x, depth + 1))));
  };
  if (depth < 2) fill();
  details.addEventListener("toggle", fill);
  return details;
}

export class JsonTree implements Viewer {
  toolbar = h("div", { class: "viewer-tools" });
  body = h("div", { class: "viewer-scroll json-tree" });
  private text = "";

  constructor() {
    const btn = (label: string, open: boolean) =>
      h("button", {
        class: "btn",
        onclick: () => {
          for (const d of this.body.querySelectorAll("details")) {
            if (open) d.dispatchEvent(new Event("toggle"));
            (d as HTMLDetailsElement).open = open;
          }
        },
      }, label);
    this.toolbar.append(btn("expand all", true), btn("collapse all", false));
  }

  addLines(lines: string[]): void {
    this.addText(lines.join("\n") + "\n", false);
  }

  addText(text: string, replace: boolean): void {
    this.text = replace ? text : this.text + text;
    clear(this.body);
    try {
      this.body.append(jsonNode(null, JSON.parse(this.text), 0));
    } catch (e) {
      this.body.append(h("p", { class: "muted" }, `not valid JSON (${String(e)}); raw text:`), h("pre", { class: "json-pre" }, this.text));
    }
  }
}

// ---- qlog ----

interface QlogEvent {
  time: number;
  name: string;
  data: unknown;
}

// qlog as JSON-SEQ (RS-separated records, the first one the header) or as one JSON document with
// traces[].events (objects, or draft arrays described by event_fields).
export function parseQlog(text: string): QlogEvent[] {
  const out: QlogEvent[] = [];
  const push = (ev: unknown, fields?: string[]) => {
    if (Array.isArray(ev) && fields) {
      const arr: unknown[] = ev;
      const o: Record<string, unknown> = {};
      fields.forEach((f, i) => (o[f] = arr[i]));
      ev = o;
    }
    if (typeof ev !== "object" || ev === null || Array.isArray(ev)) return;
    const e = ev as Record<string, unknown>;
    const name = typeof e.name === "string" ? e.name : [e.category, e.event].filter((x) => typeof x === "string").join(":");
    if (!name) return;
    out.push({ time: Number(e.time ?? e.relative_time ?? NaN), name, data: e.data ?? {} });
  };
  const each = (records: string[]) => {
    for (const rec of records) {
      const t = rec.trim();
      if (!t) continue;
      try {
        push(JSON.parse(t));
      } catch {
        // The truncated last record of a file still being written.
      }
    }
  };
  if (text.includes("\x1e")) {
    each(text.split("\x1e"));
    return out;
  }
  try {
    const doc = JSON.parse(text) as { traces?: { events?: unknown[]; event_fields?: string[] }[] };
    for (const tr of doc.traces ?? []) for (const ev of tr.events ?? []) push(ev, tr.event_fields);
    return out;
  } catch {
    // Not one document: newline-delimited records.
  }
  each(text.split("\n"));
  return out;
}

export class QlogTable implements Viewer {
  toolbar: HTMLElement;
  body: HTMLElement;
  private text = "";
  private tbody = h("tbody");
  private query = "";
  private countEl = h("span", { class: "muted count" });

  constructor() {
    this.toolbar = h("div", { class: "viewer-tools" }, filterInput("filter event name or data…", (q) => this.filter(q)), this.countEl);
    this.body = h("div", { class: "viewer-scroll" }, h("table", { class: "grid qlog-table" }, h("thead", null, h("tr", null, h("th", { class: "col-time num" }, "time (ms)"), h("th", { class: "col-kind" }, "event"), h("th", null, "data"))), this.tbody));
  }

  addLines(lines: string[]): void {
    this.addText(lines.join("\n") + "\n", false);
  }

  addText(text: string, replace: boolean): void {
    this.text = replace ? text : this.text + text;
    clear(this.tbody);
    const events = parseQlog(this.text);
    const frag = document.createDocumentFragment();
    for (const ev of events.slice(-MAX_ENTRIES)) {
      const data = JSON.stringify(ev.data);
      const tr = h("tr", { class: "qlog-row", "data-text": `${ev.name} ${data}`.toLowerCase() }, h("td", { class: "num mono" }, Number.isFinite(ev.time) ? ev.time.toFixed(3) : ""), h("td", null, h("span", { class: `kind-tag qlog-${ev.name.split(":")[0]}` }, ev.name)), h("td", { class: "details mono" }, data));
      frag.append(tr);
    }
    this.tbody.append(frag);
    this.filter(this.query);
  }

  private filter(q: string): void {
    this.query = q;
    let shown = 0;
    const rows = [...this.tbody.children] as HTMLElement[];
    for (const tr of rows) {
      const hide = q !== "" && !(tr.dataset.text ?? "").includes(q);
      tr.classList.toggle("filtered", hide);
      if (!hide) shown++;
    }
    this.countEl.textContent = q ? `${shown} of ${rows.length} events` : `${rows.length} events`;
  }
}

export function makeViewer(kind: string, ctx: ViewerContext): Viewer {
  switch (kind) {
    case "lab_events":
    case "jsonl":
      return new EventsTable(ctx);
    case "json":
      return new JsonTree();
    case "qlog":
      return new QlogTable();
    default:
      return new LogLines(kind, ctx);
  }
}

// Whole-document kinds are read from byte 0 (a 256 KiB tail of a JSON document does not parse)
// and followed by DocumentTail: a qlog grows by appended records, a JSON document is re-read.
export const wholeFileKinds = new Map<string, "append" | "reload">([
  ["json", "reload"],
  ["qlog", "append"],
]);

export { parseTimestampUs };
