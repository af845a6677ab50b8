// The page shell: header (run selector grouped by invocation, status, opid, theme), the four tabs
// and the routing between them. The selection lives in the URL hash so a reload keeps it.

import { api, type RunInfo, subscribeRuns } from "./api";
import { clear, h } from "./dom";
import { LogsView } from "./logs";
import { renderInvocationPerf, renderRunPerf } from "./perf";
import { perfTabShown } from "./perfmath";
import { RunSession } from "./session";
import { TimelineView } from "./timeline";
import { TopologyView } from "./topology";

const TABS = ["topology", "logs", "timeline", "perf"] as const;
type Tab = (typeof TABS)[number];

type Selection = { type: "run"; name: string } | { type: "inv"; name: string } | null;

interface Views {
  topology?: TopologyView;
  logs?: LogsView;
  timeline?: TimelineView;
}

class App {
  private runs: RunInfo[] = [];
  private started = false;
  private selection: Selection = null;
  private tab: Tab = "topology";
  private session: RunSession | null = null;
  private views: Views = {};
  private select = h("select", { class: "run-select", "aria-label": "run" });
  private statusEl = h("span", { class: "run-status hidden" });
  private opidEl = h("span", { class: "run-opid muted" });
  private tabButtons = new Map<Tab, HTMLButtonElement>();
  private main = h("main", { class: "content" });
  private panes = new Map<Tab, HTMLElement>();

  constructor(root: HTMLElement) {
    const nav = h("nav", { class: "tabs", role: "tablist" });
    for (const t of TABS) {
      const b = h("button", { class: "tab-btn", role: "tab", "data-tab": t, onclick: () => this.showTab(t) }, t);
      this.tabButtons.set(t, b);
      nav.append(b);
      const pane = h("section", { class: `pane pane-${t} hidden`, role: "tabpanel" });
      this.panes.set(t, pane);
      this.main.append(pane);
    }
    this.select.addEventListener("change", () => this.choose(decodeSelection(this.select.value), true));
    root.append(
      h(
        "header",
        { class: "app-header" },
        h("h1", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "patchbay"),
        this.select,
        this.statusEl,
        this.opidEl,
        nav,
        h("span", { class: "spacer" }),
        themeToggle(),
      ),
      this.main,
    );
    const fromHash = parseHash();
    if (fromHash.tab) this.tab = fromHash.tab;
    this.selection = fromHash.selection;
    subscribeRuns(() => void this.refreshRuns());
    window.addEventListener("hashchange", () => {
      const p = parseHash();
      if (p.selection && encodeSelection(p.selection) !== encodeSelection(this.selection)) this.choose(p.selection, false);
      if (p.tab && p.tab !== this.tab) this.showTab(p.tab);
    });
    void this.refreshRuns();
  }

  private async refreshRuns(): Promise<void> {
    try {
      this.runs = await api.runs();
    } catch {
      return;
    }
    this.renderSelect();
    if (!this.started && this.runs.length) {
      // First listing: the selection from the URL if it exists, else the newest run.
      this.started = true;
      const sel = this.selection;
      const known = sel && (sel.type === "run" ? this.runs.some((r) => r.name === sel.name) : this.runs.some((r) => r.invocation === sel.name));
      this.choose(known ? sel : { type: "run", name: this.runs[0].name }, true);
    }
    const cur = this.selection?.type === "run" ? this.runs.find((r) => r.name === this.selection!.name) : undefined;
    if (cur && this.session) this.session.setStatus(cur.status);
    if (!this.started) this.showEmpty();
  }

  private renderSelect(): void {
    clear(this.select);
    const groups = new Map<string | null, RunInfo[]>();
    for (const r of this.runs) groups.set(r.invocation, [...(groups.get(r.invocation) ?? []), r]);
    for (const [inv, runs] of groups) {
      const options = runs.map((r) => h("option", { value: encodeSelection({ type: "run", name: r.name }) }, runLabel(r)));
      if (inv === null) {
        this.select.append(...options);
        continue;
      }
      const group = h("optgroup", { label: inv }, options);
      if (runs.length > 1) group.append(h("option", { value: encodeSelection({ type: "inv", name: inv }) }, `combined (${runs.length} sims)`));
      this.select.append(group);
    }
    if (!this.runs.length) this.select.append(h("option", { value: "" }, "no runs yet"));
    this.select.value = encodeSelection(this.selection);
  }

  openRun(name: string): void {
    this.choose({ type: "run", name }, true);
  }

  private choose(sel: Selection, pushHash: boolean): void {
    this.selection = sel;
    this.select.value = encodeSelection(sel);
    this.session?.dispose();
    this.session = null;
    for (const v of Object.values(this.views)) v?.dispose();
    this.views = {};
    for (const p of this.panes.values()) clear(p);
    if (sel?.type === "run") {
      const session = new RunSession(sel.name);
      this.session = session;
      session.onState(() => this.renderStatus());
      session.onLogs(() => this.updatePerfTab());
      session.setStatus(this.runs.find((r) => r.name === sel.name)?.status ?? null);
      void session.start();
    } else if (sel?.type === "inv" && this.tab !== "perf") {
      this.tab = "perf";
    }
    this.renderStatus();
    this.updatePerfTab();
    this.showTab(this.tab, pushHash);
  }

  // Hidden until the listing shows a results.json; a run opened on Perf (URL hash) whose listing
  // has none moves to the topology.
  private updatePerfTab(): void {
    const sel = this.selection;
    const shown = perfTabShown(sel?.type ?? null, this.session?.logs ?? []);
    this.tabButtons.get("perf")!.classList.toggle("hidden", !shown);
    if (!shown && this.tab === "perf" && this.session?.logsLoaded) this.showTab("topology");
  }

  private renderStatus(): void {
    const st = this.session?.state;
    this.statusEl.classList.toggle("hidden", !st);
    if (st) {
      this.statusEl.textContent = st.status;
      this.statusEl.className = `run-status status-${st.status}`;
      this.opidEl.textContent = `opid ${st.opid}`;
      document.title = `patchbay — ${st.label ?? this.selection?.name ?? ""}`;
    } else {
      this.opidEl.textContent = this.selection?.type === "inv" ? `invocation ${this.selection.name}` : "";
    }
  }

  private showTab(tab: Tab, pushHash = true): void {
    const prev = this.tab;
    this.tab = tab;
    for (const [t, b] of this.tabButtons) {
      b.classList.toggle("active", t === tab);
      b.setAttribute("aria-selected", String(t === tab));
    }
    for (const [t, p] of this.panes) p.classList.toggle("hidden", t !== tab);
    this.session?.setLogsWanted(tab === "logs" || tab === "timeline");
    if (prev !== tab) this.viewFor(prev)?.deactivate();
    this.renderPane(tab);
    if (pushHash && this.selection) {
      const hash = `#${encodeSelection(this.selection)}&tab=${tab}`;
      if (location.hash !== hash) history.replaceState(null, "", hash);
    }
  }

  private viewFor(tab: Tab): { deactivate(): void } | undefined {
    return tab === "perf" ? undefined : this.views[tab];
  }

  private renderPane(tab: Tab): void {
    const pane = this.panes.get(tab)!;
    const sel = this.selection;
    if (!sel) return;
    if (sel.type === "inv") {
      clear(pane);
      if (tab === "perf") {
        void renderInvocationPerf(sel.name, (run) => this.openRun(run)).then((el) => this.selection === sel && (clear(pane), pane.append(el)));
      } else {
        const sims = this.runs.filter((r) => r.invocation === sel.name);
        pane.append(
          h(
            "div",
            { class: "empty-state" },
            h("p", null, `The combined view of ${sel.name} has performance results only. Open one sim for its ${tab}:`),
            h("div", { class: "chips" }, sims.map((r) => h("button", { class: "chip", onclick: () => this.openRun(r.name) }, runLabel(r)))),
          ),
        );
      }
      return;
    }
    const session = this.session!;
    if (tab === "perf") {
      clear(pane);
      pane.append(h("p", { class: "muted pad" }, "loading…"));
      void renderRunPerf(session.run).then((el) => this.session === session && (clear(pane), pane.append(el)));
      return;
    }
    let view = this.views[tab];
    if (!view) {
      view = tab === "topology" ? new TopologyView(session) : tab === "logs" ? new LogsView(session) : new TimelineView(session, (node, ts) => this.jumpToLogs(node, ts));
      (this.views as Record<string, unknown>)[tab] = view;
      pane.append(view.el);
    }
    view.activate();
  }

  private jumpToLogs(node: string, ts: string): void {
    this.showTab("logs");
    void this.views.logs?.jumpTo(node, ts);
  }

  private showEmpty(): void {
    for (const p of this.panes.values()) {
      clear(p);
      p.append(h("div", { class: "empty-state" }, h("p", null, "No runs in this directory yet."), h("p", { class: "muted" }, "Runs appear here as soon as a lab writes its events.jsonl.")));
    }
  }
}

function runLabel(r: RunInfo): string {
  const short = r.invocation && r.name.startsWith(`${r.invocation}/`) ? r.name.slice(r.invocation.length + 1) : r.name;
  return r.label && !short.includes(r.label) ? `${short} (${r.label})` : short;
}

function encodeSelection(sel: Selection): string {
  return sel ? `${sel.type}=${encodeURIComponent(sel.name)}` : "";
}

function decodeSelection(v: string): Selection {
  const m = /^(run|inv)=(.*)$/.exec(v);
  return m ? { type: m[1] as "run" | "inv", name: decodeURIComponent(m[2]) } : null;
}

function parseHash(): { selection: Selection; tab: Tab | null } {
  const parts = location.hash.replace(/^#/, "").split("&");
  const sel = parts.map(decodeSelection).find((s) => s !== null) ?? null;
  const tab = parts.find((p) => p.startsWith("tab="))?.slice(4) as Tab | undefined;
  return { selection: sel, tab: tab && (TABS as readonly string[]).includes(tab) ? tab : null };
}

// Light/dark: follows prefers-color-scheme until the toggle picks one, which is remembered.
function themeToggle(): HTMLElement {
  const root = document.documentElement;
  const media = window.matchMedia("(prefers-color-scheme: dark)");
  const stored = localStorage.getItem("patchbay-theme");
  const effective = () => root.dataset.theme ?? (media.matches ? "dark" : "light");
  if (stored === "light" || stored === "dark") root.dataset.theme = stored;
  const btn = h("button", { class: "icon-btn theme-toggle" });
  const label = () => {
    const dark = effective() === "dark";
    btn.textContent = dark ? "☀" : "☾";
    btn.title = dark ? "switch to the light theme" : "switch to the dark theme";
  };
  btn.addEventListener("click", () => {
    root.dataset.theme = effective() === "dark" ? "light" : "dark";
    localStorage.setItem("patchbay-theme", root.dataset.theme);
    label();
  });
  media.addEventListener("change", label);
  label();
  return btn;
}

new App(document.getElementById("app")!);
