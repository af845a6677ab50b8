// The Perf tab: the run's results.json as a per-step table, and for an invocation (the
// `combined (N sims)` option) a "summary" table per sim and an "all steps" table whose Sim column
// links to the run. Columns appear only when some step has a value (SPEC 14.2, math of 15.9).

import { api, type CombinedResults, HttpError, type StepResult } from "./api";
import { h } from "./dom";
import { activeColumns, fixedHalfEven, summarize } from "./perfmath";

function stepsTable(steps: StepResult[], lead: { title: string; cell: (i: number) => Node | string }[] = []): HTMLElement {
  const cols = activeColumns(steps);
  return h(
    "table",
    { class: "grid perf-table" },
    h("thead", null, h("tr", null, lead.map((c) => h("th", null, c.title)), h("th", null, "ID"), cols.map((c) => h("th", { class: "num" }, c.title)))),
    h(
      "tbody",
      null,
      steps.map((s, i) =>
        h(
          "tr",
          null,
          lead.map((c) => h("td", null, c.cell(i))),
          h("td", { class: "mono" }, s.id),
          cols.map((c) => h("td", { class: "num" }, c.value(s) ?? "")),
        ),
      ),
    ),
  );
}

const fmt = (v: number | null, dp: number) => (v === null ? "-" : fixedHalfEven(v, dp));

export async function renderRunPerf(run: string): Promise<HTMLElement> {
  let text: string | null;
  try {
    text = await api.fileText(run, "results.json");
  } catch (e) {
    return h("div", { class: "perf" }, h("p", { class: "muted" }, `could not load results.json: ${String(e)}`));
  }
  if (text === null) return h("div", { class: "perf empty-state" }, h("p", null, "This run has no results.json."), h("p", { class: "muted" }, "Steps with a `results` table write one (see docs/runner.md)."));
  let doc: { sim?: string; steps?: StepResult[] };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return h("div", { class: "perf" }, h("p", { class: "muted" }, `results.json is not valid JSON: ${String(e)}`));
  }
  const steps = Array.isArray(doc.steps) ? doc.steps : [];
  return h("div", { class: "perf" }, h("h2", null, "steps", doc.sim ? h("span", { class: "muted" }, ` — ${doc.sim}`) : null), stepsTable(steps));
}

export async function renderInvocationPerf(invocation: string, openRun: (run: string) => void): Promise<HTMLElement> {
  let doc: CombinedResults;
  try {
    doc = await api.combined(invocation);
  } catch (e) {
    if (e instanceof HttpError && e.status === 404) doc = { runs: [] };
    else return h("div", { class: "perf" }, h("p", { class: "muted" }, `could not load combined results: ${String(e)}`));
  }
  const runs = Array.isArray(doc.runs) ? doc.runs : [];
  const summary = summarize(runs);
  const flat = runs.flatMap((r) => r.steps.map((s) => ({ run: r, step: s })));
  const simLink = (i: number) => {
    const r = flat[i].run;
    const name = `${invocation}/${r.sim_dir}`;
    return h("a", { href: `#run=${encodeURIComponent(name)}&tab=perf`, class: "sim-link", onclick: (ev: Event) => (ev.preventDefault(), openRun(name)) }, r.sim);
  };
  const sims = new Set(runs.map((r) => r.sim)).size;
  return h(
    "div",
    { class: "perf" },
    h("p", { class: "perf-intro" }, `Invocation ${invocation}: ${sims} sim${sims === 1 ? "" : "s"} with results, ${flat.length} steps. MB/s = bytes / (elapsed s × 10⁶).`),
    h("h2", null, "summary"),
    summary.length
      ? h(
          "table",
          { class: "grid perf-table summary-table" },
          h("thead", null, h("tr", null, ["Sim", "N", "Max Down (MB/s)", "Max Up (MB/s)", "Min Latency (ms)"].map((t, i) => h("th", { class: i ? "num" : null }, t)))),
          h("tbody", null, summary.map((s) => h("tr", null, h("td", null, s.sim), h("td", { class: "num" }, String(s.n)), h("td", { class: "num" }, fmt(s.maxDown, 2)), h("td", { class: "num" }, fmt(s.maxUp, 2)), h("td", { class: "num" }, fmt(s.minLatency, 1))))),
        )
      : h("p", { class: "muted" }, "No sim of this invocation has recorded results yet."),
    h("h2", null, "all steps"),
    flat.length ? stepsTable(flat.map((f) => f.step), [{ title: "Sim", cell: simLink }]) : h("p", { class: "muted" }, "no steps"),
  );
}
