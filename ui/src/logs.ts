// The Logs tab: a sidebar of the run's files grouped by node (SPEC 14.1 listing with kinds) and
// the viewer of the selected file, which loads its last 256 KiB and then tails it. The Timeline's
// "jump to logs" lands here through `jumpTo`.

import { api, type LogFile } from "./api";
import { clear, h } from "./dom";
import { formatDateTimeUs, parseTimestampUs } from "./format";
import type { RunSession } from "./session";
import { DocumentTail, FileTail, TooLargeError } from "./tail";
import { makeViewer, type Viewer, wholeFileKinds } from "./viewers";

const KIND_LABEL: Record<string, string> = {
  lab_events: "lab events",
  tracing_jsonl: "tracing",
  ansi_text: "ansi",
  jsonl: "jsonl",
  json: "json",
  qlog: "qlog",
  pcapng: "pcap",
  text: "text",
};

// The file a node's logs open on: its JSON tracing log, else its text tracing log, else anything.
export function preferredLog(files: LogFile[], node: string): LogFile | undefined {
  const mine = files.filter((f) => f.node === node);
  if (node === "_lab" || node === "_run") return files.find((f) => f.kind === "lab_events") ?? mine[0];
  return (
    mine.find((f) => f.kind === "tracing_jsonl") ??
    mine.find((f) => f.path.endsWith(".tracing.log")) ??
    mine.find((f) => f.kind === "ansi_text") ??
    mine.find((f) => !f.path.endsWith(".events.jsonl")) ??
    mine[0]
  );
}

export class LogsView {
  readonly el: HTMLElement;
  private sidebar = h("nav", { class: "logs-sidebar", "aria-label": "log files" });
  private head = h("div", { class: "viewer-head" });
  private host = h("div", { class: "viewer-host" });
  private selected: string | null = null;
  private viewer: Viewer | null = null;
  private tail: FileTail | DocumentTail | null = null;
  private relative = false;
  private pendingJump: { us: number; ts: string } | null = null;
  private jumpEl = h("span", { class: "jump-info hidden" });
  private unsub: () => void;
  private active = false;
  private loadSeq = 0;

  constructor(private readonly session: RunSession) {
    this.el = h("div", { class: "logs" }, this.sidebar, h("section", { class: "viewer" }, this.head, this.host));
    this.unsub = session.onLogs(() => this.renderSidebar());
    this.renderSidebar();
    this.renderHead(null);
  }

  activate(): void {
    this.active = true;
    if (!this.selected) this.openDefault();
  }

  deactivate(): void {
    this.active = false;
  }

  private openDefault(): void {
    const f = this.session.logs.find((x) => x.kind === "lab_events") ?? this.session.logs[0];
    if (f) this.open(f);
  }

  private renderSidebar(): void {
    clear(this.sidebar);
    const files = this.session.logs;
    if (!files.length) {
      this.sidebar.append(h("p", { class: "muted pad" }, "no log files yet"));
      return;
    }
    const groups = new Map<string, LogFile[]>();
    for (const f of files) groups.set(f.node, [...(groups.get(f.node) ?? []), f]);
    // The run's own files first, then nodes by name.
    const names = [...groups.keys()].sort((a, b) => (a === "_run" ? -1 : b === "_run" ? 1 : a < b ? -1 : a > b ? 1 : 0));
    for (const node of names) {
      this.sidebar.append(
        h(
          "div",
          { class: "node-group", "data-node": node },
          h("div", { class: "node-group-title" }, node === "_run" ? "run" : node),
          groups.get(node)!.map((f) => {
            const button = h(
              "button",
              { class: `log-file${f.path === this.selected ? " active" : ""}`, "data-path": f.path, title: f.path, onclick: () => this.open(f) },
              h("span", { class: "log-file-name" }, shortName(f)),
              h("span", { class: `kind-badge kind-${f.kind}` }, KIND_LABEL[f.kind] ?? f.kind),
            );
            // Captures are binary: a download link beside the entry (a link may not sit inside a button).
            if (f.kind !== "pcapng") return button;
            return h("div", { class: "log-file-row" }, button, downloadLink(this.session.run, f, "log-file-download", "download"));
          }),
        ),
      );
    }
    if (this.active && !this.selected) this.openDefault();
  }

  // Opens a file; with `jump`, highlights the entry at that time once loaded.
  async open(f: LogFile, jump?: { us: number; ts: string }): Promise<void> {
    const seq = ++this.loadSeq;
    this.tail?.stop();
    this.selected = f.path;
    for (const b of this.sidebar.querySelectorAll<HTMLElement>(".log-file")) b.classList.toggle("active", b.dataset.path === f.path);
    this.pendingJump = jump ?? null;
    const ctx = { baseUs: () => this.baseUs(), relative: () => this.relative };
    this.renderHead(f);
    clear(this.host);
    if (f.kind === "pcapng") {
      this.viewer = null;
      this.tail = null;
      this.host.append(await capturePanel(this.session.run, f));
      return;
    }
    const viewer = makeViewer(f.kind, ctx);
    this.viewer = viewer;
    this.host.append(viewer.toolbar, viewer.body);
    const status = h("div", { class: "viewer-status muted" }, "loading…");
    viewer.body.prepend(status);
    try {
      const follow = { intervalMs: () => (this.session.state.status === "stopped" ? 3000 : 1000), finished: () => this.session.state.status === "stopped" };
      const whole = wholeFileKinds.get(f.kind);
      if (whole) {
        const tail = new DocumentTail(this.session.run, f.path, whole, (text, replace) => viewer.addText?.(text, replace), follow);
        this.tail = tail;
        await tail.start();
        if (seq !== this.loadSeq) return;
        status.remove();
      } else {
        const tail = new FileTail(this.session.run, f.path, (lines) => viewer.addLines(lines), follow);
        this.tail = tail;
        await tail.start();
        if (seq !== this.loadSeq) return;
        status.textContent = tail.truncated ? "showing the last 256 KiB; older lines are not loaded" : "";
        if (!tail.truncated) status.remove();
      }
    } catch (e) {
      if (seq !== this.loadSeq) return;
      clear(status);
      if (e instanceof TooLargeError) status.append(`${e.message}: `, h("a", { href: api.fileUrl(this.session.run, f.path), download: "" }, "download it"));
      else status.textContent = `could not load ${f.path}: ${String(e)}`;
      return;
    }
    this.applyJump();
  }

  private baseUs(): number {
    const created = parseTimestampUs(this.session.state.created_at);
    return Number.isFinite(created) ? created : 0;
  }

  private renderHead(f: LogFile | null): void {
    clear(this.head);
    if (!f) {
      this.head.append(h("span", { class: "muted" }, "select a file"));
      return;
    }
    const tsBtn = h("button", { class: "btn ts-toggle", title: "timestamps: absolute (UTC) or relative to the lab's start" }, this.relative ? "relative time" : "absolute time");
    tsBtn.addEventListener("click", () => {
      this.relative = !this.relative;
      tsBtn.textContent = this.relative ? "relative time" : "absolute time";
      this.viewer?.refreshTimes?.();
    });
    this.head.append(
      h("span", { class: "viewer-title mono" }, f.path),
      h("span", { class: `kind-badge kind-${f.kind}` }, KIND_LABEL[f.kind] ?? f.kind),
      this.jumpEl,
      h("span", { class: "spacer" }),
      ...(f.kind === "json" || f.kind === "qlog" || f.kind === "pcapng" ? [] : [tsBtn]),
      f.kind === "pcapng"
        ? downloadLink(this.session.run, f, "btn", "download")
        : h("a", { class: "btn", href: api.fileUrl(this.session.run, f.path), target: "_blank", rel: "noopener" }, "raw"),
    );
  }

  private applyJump(): void {
    const j = this.pendingJump;
    if (!j || !this.viewer?.jump) {
      this.jumpEl.classList.add("hidden");
      return;
    }
    const found = this.viewer.jump(j.us);
    this.jumpEl.classList.remove("hidden");
    this.jumpEl.textContent = `jump: ${formatDateTimeUs(j.us)}${found ? "" : " (no entry within 2 s)"}`;
    this.jumpEl.title = j.ts;
  }

  // Timeline -> Logs: the node's tracing log, scrolled to the entry at `ts`.
  async jumpTo(node: string, ts: string): Promise<void> {
    await this.session.refreshLogs();
    const f = preferredLog(this.session.logs, node);
    if (!f) return;
    await this.open(f, { us: parseTimestampUs(ts), ts });
  }

  dispose(): void {
    this.unsub();
    this.tail?.stop();
  }
}

// `device.client.tracing.jsonl` shows as `tracing.jsonl` under the node `client`.
function shortName(f: LogFile): string {
  for (const kind of ["device", "router"]) {
    const prefix = `${kind}.${f.node}.`;
    if (f.path.startsWith(prefix)) return f.path.slice(prefix.length);
  }
  return f.path;
}

// Packet captures are binary: the page offers the file for Wireshark or tshark instead of a viewer.
function downloadLink(run: string, f: LogFile, cls: string, text: string): HTMLElement {
  const name = f.path.split("/").pop() ?? f.path;
  return h("a", { class: cls, href: api.fileUrl(run, f.path), download: name, title: `download ${name}` }, text);
}

async function capturePanel(run: string, f: LogFile): Promise<HTMLElement> {
  let size = "";
  try {
    const { total } = await api.fileHead(run, f.path, 1);
    size = ` (${formatBytes(total)})`;
  } catch {
    size = "";
  }
  const name = f.path.split("/").pop() ?? f.path;
  return h(
    "div",
    { class: "capture-panel pad" },
    h("p", null, `Packet capture in pcapng format${size}. A running capture grows; download again for newer packets.`),
    h("p", null, downloadLink(run, f, "btn capture-download", `download ${name}`)),
    h("p", { class: "muted" }, "Open it in Wireshark, or read it with ", h("code", null, `tshark -r ${name}`), "."),
  );
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
