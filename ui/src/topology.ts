// The Topology tab: the layered graph of layout.ts drawn as SVG with pan and zoom, and the detail
// panel of the selected node. Redrawn (at most a few times a second) as events change the state.

import { detailSignature, renderDetail } from "./detail";
import { clear, h, svg } from "./dom";

// Kinds the reducer applies without changing the graph (SPEC 13.3: counters; the rest only opid).
const PANEL_ONLY = new Set(["packet_counters", "command_spawned", "command_exited", "nat_state_flushed", "link_up", "link_down", "ip_added", "dns_changed"]);

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ESC[c]);
import { layoutLab, metrics, type Font, type Layout, type LayoutEdge, type LayoutNode } from "./layout";
import type { RunSession } from "./session";

const FONTS: Record<Font, string> = {
  title: '600 12.5px "DejaVu Sans", system-ui, sans-serif',
  mono: '11px "DejaVu Sans Mono", ui-monospace, monospace',
  badge: '600 10px "DejaVu Sans", system-ui, sans-serif',
  label: '10.5px "DejaVu Sans Mono", ui-monospace, monospace',
  ix: '700 12.5px "DejaVu Sans", system-ui, sans-serif',
};

// Canvas text metrics with the same fonts the SVG uses (see .topo text rules in styles.css).
function canvasMeasure(): (text: string, font: Font) => number {
  const ctx = document.createElement("canvas").getContext("2d")!;
  const cache = new Map<string, number>();
  return (text, font) => {
    const key = `${font}\u0000${text}`;
    let w = cache.get(key);
    if (w === undefined) {
      ctx.font = FONTS[font];
      w = ctx.measureText(text).width;
      cache.set(key, w);
    }
    return w;
  };
}

export class TopologyView {
  readonly el: HTMLElement;
  private svgEl: SVGSVGElement;
  private viewport: SVGGElement;
  private panel: HTMLElement;
  private layout: Layout | null = null;
  private edgeById = new Map<string, LayoutEdge>();
  private selected: string | null = null;
  private view = { x: 0, y: 0, k: 1 };
  private fitted = false;
  private active = false;
  private dirty = true;
  private layoutDirty = true;
  private drawnState: object | null = null;
  private panelSignature: string | null = null; // detailSignature of the panel on screen
  private timer: number | undefined;
  private lastDraw = 0;
  private measure = canvasMeasure();
  private unsub: () => void;
  private dragMoved = false;
  private resize: ResizeObserver;
  private stopPanZoom: () => void = () => {};

  constructor(private readonly session: RunSession) {
    this.viewport = svg("g", { class: "viewport" });
    this.svgEl = svg("svg", { class: "topo-svg", role: "img", "aria-label": "lab topology" }, this.viewport);
    this.panel = h("aside", { class: "detail-panel hidden" });
    const toolbar = h(
      "div",
      { class: "topo-toolbar" },
      h("button", { class: "icon-btn", title: "zoom in", onclick: () => this.zoomBy(1.25) }, "+"),
      h("button", { class: "icon-btn", title: "zoom out", onclick: () => this.zoomBy(0.8) }, "−"),
      h("button", { class: "icon-btn wide", title: "fit the whole lab", onclick: () => this.fit(true) }, "fit"),
    );
    const legend = h(
      "div",
      { class: "topo-legend" },
      h("span", { class: "lg lg-router" }, "router"),
      h("span", { class: "lg lg-device" }, "device"),
      h("span", { class: "lg lg-cond" }, "link condition"),
      h("span", { class: "lg lg-region" }, "region link"),
      h("span", { class: "lg lg-broken" }, "broken"),
    );
    this.el = h("div", { class: "topology" }, h("div", { class: "topo-canvas" }, this.svgEl, toolbar, legend, h("div", { class: "topo-empty hidden" }, "waiting for the lab's first events…")), this.panel);
    this.installPanZoom();
    // Events that change nothing drawn (counters, commands) refresh only the open detail panel.
    const unsubEvents = session.onEventApplied((ev) => {
      if (!PANEL_ONLY.has(ev.kind)) this.layoutDirty = true;
    });
    const unsubState = session.onState(() => this.invalidate());
    this.unsub = () => {
      unsubEvents();
      unsubState();
    };
    this.resize = new ResizeObserver(() => {
      if (this.active && !this.fitted) this.invalidate();
    });
    this.resize.observe(this.el);
  }

  activate(): void {
    this.active = true;
    this.invalidate();
  }

  deactivate(): void {
    this.active = false;
  }

  // Redraws at most every 250 ms: a backlog of thousands of events becomes a handful of draws.
  private invalidate(): void {
    this.dirty = true;
    if (!this.active || this.timer !== undefined) return;
    const wait = Math.max(0, 250 - (performance.now() - this.lastDraw));
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      if (this.active && this.dirty) this.draw();
    }, wait);
  }

  private draw(): void {
    this.dirty = false;
    if (!this.session.ready) return; // nothing to show before state.json answered: no lone IX flashing

    // A new state object (state.json loaded) always needs a layout.
    if (!this.layoutDirty && this.layout && this.drawnState === this.session.state) {
      this.renderPanel();
      return;
    }
    this.layoutDirty = false;
    this.drawnState = this.session.state;
    const start = performance.now();
    this.lastDraw = start;
    const st = this.session.state;
    const size = { w: this.svgEl.clientWidth, h: this.svgEl.clientHeight };
    const empty = Object.keys(st.routers).length === 0 && Object.keys(st.devices).length === 0 && !st.ix;
    this.el.querySelector(".topo-empty")!.classList.toggle("hidden", !empty);
    this.layout = layoutLab(st, this.measure);
    performance.measure("patchbay:topology-layout", { start });
    const edges: string[] = [];
    const labels: string[] = [];
    for (const e of this.layout.edges) {
      const m = this.edgeMarkup(e);
      edges.push(m.edge);
      labels.push(m.label);
    }
    const nodes = this.layout.nodes.map((n) => this.nodeMarkup(n));
    this.viewport.innerHTML = `<g class="edges">${edges.join("")}</g><g class="nodes">${nodes.join("")}</g><g class="edge-labels">${labels.join("")}</g>`;
    this.edgeById = new Map(this.layout.edges.map((e) => [e.id, e]));
    this.svgEl.dataset.nodes = String(this.layout.nodes.length);
    if (!this.fitted && size.w > 0 && !empty) {
      this.fit(false, size);
      this.fitted = true;
    }
    this.applyView();
    this.renderPanel();
    // Standard performance entries (layout + SVG build time), read by bench/run.sh serve-ui.
    performance.measure("patchbay:topology-draw", { start, detail: { nodes: this.layout.nodes.length } });
    const count = this.layout.nodes.length;
    requestAnimationFrame(() => requestAnimationFrame(() => performance.mark("patchbay:topology-painted", { detail: { nodes: count } })));
  }

  // Markup, not DOM calls: a 1,000-device lab is ~10,000 SVG elements, and one innerHTML parse is
  // several times faster than creating them one by one. Clicks are delegated (installPanZoom).
  private edgeMarkup(e: LayoutEdge): { edge: string; label: string } {
    const cls = ["edge", `edge-${e.kind}`, e.down && "down", e.conditioned && "conditioned", e.broken && "broken", e.secondary && "secondary", this.isHighlighted(e) && "hl"].filter(Boolean).join(" ");
    const title = `<title>${esc(e.title)}</title>`;
    const paths =
      e.kind === "region"
        ? `<path d="${e.d}" class="hit"/><path d="${e.d}" class="line"/>${e.broken ? "" : `<path d="${e.d}" class="flow"/>`}`
        : `<path d="${e.d}" class="line"/>`;
    const edge = `<g class="${cls}" data-id="${esc(e.id)}">${e.label ? "" : title}${paths}</g>`;
    if (!e.label) return { edge, label: "" };
    const l = e.label;
    const lcls = `edge-label${e.conditioned ? " conditioned" : ""}${e.down ? " down" : ""}${e.secondary ? " secondary" : ""}`;
    const label =
      `<g class="${lcls}" data-edge="${esc(e.id)}" transform="translate(${l.x},${l.y})">${title}` +
      `<rect width="${l.w}" height="${l.h}" rx="4"/><text x="${l.w / 2}" y="${l.h / 2 + 3.8}" text-anchor="middle">${esc(l.text)}</text></g>`;
    return { edge, label };
  }

  private isHighlighted(e: LayoutEdge): boolean {
    return this.selected !== null && (e.from === this.selected || e.to === this.selected);
  }

  private nodeMarkup(n: LayoutNode): string {
    const open = `<g class="node node-${n.kind}${n.id === this.selected ? " selected" : ""}" data-id="${esc(n.id)}" transform="translate(${n.x},${n.y})" tabindex="0">`;
    if (n.kind === "ix") {
      const r = n.w / 2;
      return `${open}<circle cx="${r}" cy="${r}" r="${r}" class="node-box"/><text class="node-label node-title" x="${r}" y="${r + 4.5}" text-anchor="middle">${esc(n.title)}</text></g>`;
    }
    let out = `${open}<rect class="node-box" width="${n.w}" height="${n.h}" rx="${n.kind === "router" ? 6 : 10}"/><rect class="node-accent" width="4" height="${n.h - 12}" x="0" y="6" rx="2"/>`;
    const region = n.region ? `<tspan class="node-region"> [${esc(n.region)}]</tspan>` : "";
    out += `<text class="node-label node-title" x="${metrics.padX}" y="${metrics.padY + 13}">${esc(n.title)}${region}</text>`;
    let y = metrics.padY + metrics.titleH;
    for (const line of n.lines) {
      out += `<text class="node-label node-mono" x="${metrics.padX}" y="${y + 11}">${esc(line)}</text>`;
      y += metrics.monoH;
    }
    let x = metrics.padX;
    for (const b of n.badges) {
      const w = Math.ceil(this.measure(b, "badge")) + 2 * metrics.badgePadX;
      out += `<g class="badge badge-${esc(b.split(":")[0])}" transform="translate(${x},${y + 4})"><rect width="${w}" height="${metrics.badgeH}" rx="9"/><text class="node-label" x="${w / 2}" y="12.5" text-anchor="middle">${esc(b)}</text></g>`;
      x += w + metrics.badgeGap;
    }
    return `${out}</g>`;
  }

  select(id: string | null): void {
    this.selected = id;
    for (const el of this.viewport.querySelectorAll(".node")) el.classList.toggle("selected", el.getAttribute("data-id") === id);
    for (const el of this.viewport.querySelectorAll<SVGGElement>(".edge")) {
      const e = this.edgeById.get(el.getAttribute("data-id") ?? "");
      el.classList.toggle("hl", !!e && this.isHighlighted(e));
    }
    this.renderPanel(true);
  }

  // Called on every draw: the panel is left alone unless what it shows changed (see
  // detailSignature); then only the sections whose content differs are replaced, so a counter
  // update does not take the selection or focus out of the other sections.
  private renderPanel(force = false): void {
    const sig = this.selected ? detailSignature(this.selected, this.session.state) : null;
    if (!force && sig === this.panelSignature && sig !== null) return;
    this.panelSignature = sig;
    const d = sig !== null && this.selected ? renderDetail(this.selected, this.session.state, (id) => this.focus(id)) : null;
    this.panel.classList.toggle("hidden", !d);
    if (!d) {
      clear(this.panel);
      return;
    }
    const body = this.panel.querySelector(".detail-body");
    const head = this.panel.querySelector(".detail-head h2");
    if (!force && body && head?.textContent === d.title && body.children.length === d.body.length) {
      d.body.forEach((next, i) => {
        const cur = body.children[i];
        if (cur.outerHTML !== next.outerHTML) cur.replaceWith(next);
      });
      return;
    }
    clear(this.panel);
    this.panel.append(
      h("header", { class: "detail-head" }, h("span", { class: `kind-pill kind-${d.kind.replace(" ", "-")}` }, d.kind), h("h2", null, d.title), h("button", { class: "icon-btn", title: "close", onclick: () => this.select(null) }, "×")),
      h("div", { class: "detail-body" }, d.body),
    );
  }

  // Selects a node and pans it into view.
  focus(id: string): void {
    this.select(id);
    const n = this.layout?.nodes.find((x) => x.id === id);
    if (!n) return;
    const cw = this.svgEl.clientWidth;
    const ch = this.svgEl.clientHeight;
    this.view.x = cw / 2 - (n.x + n.w / 2) * this.view.k;
    this.view.y = ch / 3 - (n.y + n.h / 2) * this.view.k;
    this.applyView();
  }

  // Whole lab in view; on the first draw a large lab keeps a readable scale instead, with the IX
  // at the top centre.
  // `size` is the canvas size read before the DOM changed: reading it afterwards would force a
  // style and layout pass over every new element inside the draw.
  fit(all: boolean, size = { w: this.svgEl.clientWidth, h: this.svgEl.clientHeight }): void {
    if (!this.layout) return;
    const cw = size.w;
    const ch = size.h;
    const { width, height } = this.layout;
    let k = Math.min(cw / width, ch / height, 1.25);
    if (!all) k = Math.min(1.1, Math.max(k, 0.85));
    this.view.k = k;
    this.view.x = width * k <= cw ? (cw - width * k) / 2 : cw / 2 - (this.layout.nodes[0].x + this.layout.nodes[0].w / 2) * k;
    this.view.y = height * k <= ch ? Math.max(0, (ch - height * k) / 3) : 0;
    this.applyView();
  }

  private zoomBy(f: number, cx = this.svgEl.clientWidth / 2, cy = this.svgEl.clientHeight / 2): void {
    const k = Math.min(3, Math.max(0.05, this.view.k * f));
    const real = k / this.view.k;
    this.view.x = cx - (cx - this.view.x) * real;
    this.view.y = cy - (cy - this.view.y) * real;
    this.view.k = k;
    this.applyView();
  }

  private applyView(): void {
    this.viewport.setAttribute("transform", `translate(${this.view.x},${this.view.y}) scale(${this.view.k})`);
  }

  private installPanZoom(): void {
    this.svgEl.addEventListener(
      "wheel",
      (ev) => {
        ev.preventDefault();
        const r = this.svgEl.getBoundingClientRect();
        if (ev.ctrlKey || ev.metaKey || !ev.shiftKey) this.zoomBy(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
        else {
          this.view.x -= ev.deltaY;
          this.applyView();
        }
      },
      { passive: false },
    );
    let start: { x: number; y: number; vx: number; vy: number } | null = null;
    this.svgEl.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      start = { x: ev.clientX, y: ev.clientY, vx: this.view.x, vy: this.view.y };
      this.dragMoved = false;
    });
    const move = (ev: PointerEvent) => {
      if (!start) return;
      const dx = ev.clientX - start.x;
      const dy = ev.clientY - start.y;
      if (!this.dragMoved && Math.hypot(dx, dy) < 4) return;
      if (!this.dragMoved) this.svgEl.classList.add("dragging");
      this.dragMoved = true;
      this.view.x = start.vx + dx;
      this.view.y = start.vy + dy;
      this.applyView();
    };
    const up = () => {
      start = null;
      this.svgEl.classList.remove("dragging");
      // The click that ends a drag must not select; the next one may.
      window.setTimeout(() => (this.dragMoved = false), 0);
    };
    // On the window, so a drag that leaves the canvas still ends; removed with the view.
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
    this.stopPanZoom = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    this.svgEl.addEventListener("click", (ev) => {
      if (this.dragMoved) return;
      const hit = (ev.target as Element).closest(".node, .edge-region");
      if (hit) this.select(hit.getAttribute("data-id"));
      else if (ev.target === this.svgEl) this.select(null);
    });
    this.svgEl.addEventListener("keydown", (ev) => {
      const node = (ev.target as Element).closest(".node");
      if (ev.key === "Enter" && node) this.select(node.getAttribute("data-id"));
    });
  }

  dispose(): void {
    this.unsub();
    this.resize.disconnect();
    this.stopPanZoom();
    window.clearTimeout(this.timer);
  }
}
