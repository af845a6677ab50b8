// One selected run: its reduced state (state.json, then every later event over SSE through the
// SPEC 13.3 reducer), its log listing, and listeners for the views.
//
// Costs while nobody looks: the event stream is closed while the page is hidden and reopened
// after the last opid applied when it is shown (the server sends every later line, so nothing is
// lost or applied twice). The listing is fetched once at the start, once when the run stops (for
// the files written at its end, e.g. results.json), and polled only while a view that lists files
// wants it (setLogsWanted: the Logs and Timeline tabs) and the page is visible.

import { api, HttpError, subscribeEvents, type LogFile } from "./api";
import { applyEvent, emptyState, stateFromJson, type LabEvent, type LabState } from "./reducer";
import { onPageVisibility, pageVisible } from "./visibility";

export const LOGS_POLL_MS = 4000;

type Listener = () => void;

export class RunSession {
  state: LabState = emptyState();
  stateLoaded = false;
  ready = false; // state.json answered (or is known to be missing)
  error: string | null = null;
  logs: LogFile[] = [];
  logsLoaded = false; // the listing answered once
  private lastOpid = -1;
  private closeEvents: (() => void) | null = null;
  private stateListeners = new Set<Listener>();
  private eventListeners = new Set<(ev: LabEvent) => void>();
  private logListeners = new Set<Listener>();
  private disposed = false;
  private logsTimer: number | undefined;
  private logsWanted = false;
  private readonly stopVisibility: () => void;

  constructor(readonly run: string) {
    this.stopVisibility = onPageVisibility(() => this.onVisibility());
  }

  async start(): Promise<void> {
    // state.json first (it carries the writer's "stopped", which no event does), then the events
    // after its opid; without state.json the whole history is reduced from opid 0.
    let after: number | null = null;
    try {
      const st = stateFromJson(await api.state(this.run));
      if (this.disposed) return;
      this.state = st;
      this.lastOpid = st.opid;
      this.stateLoaded = true;
      after = st.opid;
    } catch (e) {
      if (!(e instanceof HttpError && e.status === 404)) this.error = String(e);
    }
    if (this.disposed) return;
    this.ready = true;
    this.notifyState();
    if (pageVisible()) this.subscribe(after);
    void this.refreshLogs();
    this.updateLogsTimer();
  }

  private subscribe(after: number | null): void {
    this.closeEvents?.();
    this.closeEvents = subscribeEvents(this.run, after, (ev) => this.onEvent(ev));
  }

  private onVisibility(): void {
    if (this.disposed || !this.ready) return;
    if (!pageVisible()) {
      this.closeEvents?.();
      this.closeEvents = null;
    } else if (!this.closeEvents) {
      this.subscribe(this.lastOpid >= 0 ? this.lastOpid : null);
    }
    this.updateLogsTimer();
  }

  // The Logs and Timeline tabs list the run's files: poll the listing while one of them is shown.
  setLogsWanted(wanted: boolean): void {
    if (wanted === this.logsWanted) return;
    this.logsWanted = wanted;
    if (wanted && this.ready && pageVisible()) void this.refreshLogs();
    this.updateLogsTimer();
  }

  private updateLogsTimer(): void {
    const poll = this.ready && !this.disposed && this.logsWanted && pageVisible();
    if (poll && this.logsTimer === undefined) {
      this.logsTimer = window.setInterval(() => {
        if (this.state.status !== "stopped" || this.logs.length === 0) void this.refreshLogs();
      }, LOGS_POLL_MS);
    } else if (!poll && this.logsTimer !== undefined) {
      window.clearInterval(this.logsTimer);
      this.logsTimer = undefined;
    }
  }

  private onEvent(ev: LabEvent): void {
    // A reused output directory (OutDir::exact): the next lab appends to the same events.jsonl
    // with opids from 0 again. Its lab_created starts a new state; the server stops filtering by
    // `after` at a new lab's first line, so the stream carries all of it.
    if (ev.kind === "lab_created" && (this.stateLoaded || ev.opid < this.lastOpid)) {
      this.state = emptyState();
      this.lastOpid = -1;
      this.stateLoaded = false;
    }
    if (ev.opid <= this.lastOpid) return; // replayed after a reconnect, or already in state.json
    this.lastOpid = ev.opid;
    const status = this.state.status;
    applyEvent(this.state, ev);
    // The reducer sets "running" on lab_created; a replay must not undo the writer's "stopped".
    if (status === "stopped" && ev.kind === "lab_created" && this.stateLoaded) this.state.status = status;
    this.stateLoaded = true;
    for (const l of this.eventListeners) l(ev);
    this.notifyState();
  }

  // The run list reports the status from state.json; "stopped" is never an event.
  setStatus(status: string | null): void {
    if (status && status !== this.state.status) {
      this.state.status = status;
      // Files written as the run ends (results.json: the Perf tab) appear without polling.
      if (status === "stopped" && this.ready) void this.refreshLogs();
      this.notifyState();
    }
  }

  async refreshLogs(): Promise<void> {
    try {
      const logs = await api.logs(this.run);
      if (this.disposed) return;
      const changed = !this.logsLoaded || JSON.stringify(logs) !== JSON.stringify(this.logs);
      this.logs = logs;
      this.logsLoaded = true;
      if (changed) for (const l of this.logListeners) l();
    } catch {
      // The listing is refreshed again later; a run directory that vanished shows no files.
    }
  }

  onState(l: Listener): () => void {
    this.stateListeners.add(l);
    return () => this.stateListeners.delete(l);
  }
  onEventApplied(l: (ev: LabEvent) => void): () => void {
    this.eventListeners.add(l);
    return () => this.eventListeners.delete(l);
  }
  onLogs(l: Listener): () => void {
    this.logListeners.add(l);
    return () => this.logListeners.delete(l);
  }

  private notifyState(): void {
    for (const l of this.stateListeners) l();
  }

  dispose(): void {
    this.disposed = true;
    this.closeEvents?.();
    this.stopVisibility();
    window.clearInterval(this.logsTimer);
    this.stateListeners.clear();
    this.eventListeners.clear();
    this.logListeners.clear();
  }
}
