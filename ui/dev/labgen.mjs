// Generated labs for the UI's layout test, screenshots and the load benchmark: events.jsonl lines
// and the matching state.json of a lab with `routers` routers and `devices` devices, shaped like a
// real one (a data centre and ISPs on the IX, home routers behind the ISPs, devices with
// conditioned and multi-homed interfaces, two regions with a broken link). Deterministic.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const pad = (n, w = 2) => String(n).padStart(w, "0");

export function generateLab({ routers = 20, devices = 60, label = "generated", regions = true } = {}) {
  const t0 = Date.UTC(2026, 2, 5, 12, 0, 0);
  let opid = 0;
  const events = [];
  const ts = (ms) => new Date(t0 + ms).toISOString().replace("Z", "000000Z"); // 9 digits, as the lab writes
  const emit = (kind, fields) => events.push({ opid: opid++, timestamp: ts(opid * 3), kind, ...JSON.parse(JSON.stringify(fields)) });
  const state = {
    opid: 0, lab_prefix: "lab-p4242", label, status: "stopped", created_at: null, ix: null,
    routers: {}, devices: {}, regions: {}, region_links: [],
  };
  emit("lab_created", { lab_prefix: state.lab_prefix, label, seed: 42, version: "0.1.0", engine: "userspace" });
  state.created_at = events[0].timestamp;
  const ix = { bridge: "pb-ix", cidr: "198.18.0.0/24", gw: "198.18.0.1", cidr_v6: "2001:db8::/64", gw_v6: "2001:db8::1" };
  emit("ix_created", ix);
  state.ix = ix;

  const addRouter = (name, opts) => {
    const i = Object.keys(state.routers).length + 1;
    const r = {
      ns: `lab1-r${i}`, region: opts.region ?? null, nat: opts.nat ?? "none", nat_v6: "none", firewall: opts.firewall ?? "none",
      ip_support: "v4-only", mtu: null, upstream: opts.upstream ?? null,
      uplink_ip: opts.upstream ? `10.${opts.upIndex}.0.${10 + i}` : `198.18.0.${10 + i}`, uplink_ip_v6: null, uplink_ll_v6: null,
      downstream_cidr: `10.${i}.0.0/24`, downstream_gw: `10.${i}.0.1`, downstream_cidr_v6: null, downstream_gw_v6: null,
      downstream_ll_v6: null, downstream_bridge: `br-${i}`, downlink_condition: null, devices: [], counters: {},
      preset: opts.preset ?? null, block_icmp_frag_needed: false, ra_enabled: false, ra_interval_secs: 30, ra_lifetime_secs: 1800,
      uplink_condition: { up: null, down: null },
    };
    state.routers[name] = r;
    emit("router_added", { name, ...r });
    return i;
  };

  const names = [];
  const regionNames = regions && routers >= 6 ? ["eu", "us"] : [];
  for (const reg of regionNames) {
    emit("region_added", { name: reg, router: `region_${reg}` });
    state.regions[reg] = { router: `region_${reg}` };
    addRouter(`region_${reg}`, { region: reg });
  }
  if (regionNames.length === 2) {
    emit("region_link_added", { router_a: "region_eu", router_b: "region_us", condition: { latency_ms: 40 } });
    state.region_links.push({ a: "region_eu", b: "region_us", condition: { latency_ms: 40 }, broken: false });
  }
  const left = routers - regionNames.length;
  const isps = Math.max(1, Math.min(4, Math.round(left / 5)));
  addRouter("dc", { preset: "public", region: regionNames[0] });
  names.push("dc");
  const ispNames = [];
  for (let i = 1; i <= isps && names.length < left; i++) {
    const n = `isp${i}`;
    addRouter(n, { nat: i === isps ? "cgnat" : "none", preset: i === isps ? "isp-cgnat" : null, region: regionNames[i % 2] });
    ispNames.push(n);
    names.push(n);
  }
  for (let i = 1; names.length < left; i++) {
    const up = ispNames[(i - 1) % ispNames.length];
    const n = `home${pad(i)}`;
    addRouter(n, { upstream: up, upIndex: Object.keys(state.routers).indexOf(up) + 1, nat: i % 5 === 0 ? "corporate" : "home", firewall: i % 5 === 0 ? "corporate" : "block_inbound", preset: i % 5 === 0 ? "corporate" : "home" });
    names.push(n);
  }

  const leafRouters = names.filter((n) => n.startsWith("home"));
  const hosts = {};
  for (let d = 0; d < devices; d++) {
    const isServer = d % 12 === 0;
    const router = isServer || leafRouters.length === 0 ? "dc" : leafRouters[d % leafRouters.length];
    const name = isServer ? `server${pad(d / 12 + 1)}` : `${["laptop", "phone", "tv", "desktop"][d % 4]}${pad(d + 1, 3)}`;
    const ri = Object.keys(state.routers).indexOf(router) + 1;
    hosts[router] = (hosts[router] ?? 1) + 1;
    const ifaceName = name.startsWith("phone") ? "wlan0" : "eth0";
    const ifaces = [{ name: ifaceName, router, ip: `10.${ri}.${Math.floor(hosts[router] / 250)}.${hosts[router] % 250}`, ip_v6: null, ll_v6: null, link_condition: ifaceName === "wlan0" ? "wifi" : null, link_condition_down: null, is_up: true }];
    // Every 17th device is multi-homed: a second interface to the next leaf router.
    if (d % 17 === 5 && leafRouters.length > 1) {
      const other = leafRouters[(d + 1) % leafRouters.length];
      const oi = Object.keys(state.routers).indexOf(other) + 1;
      hosts[other] = (hosts[other] ?? 1) + 1;
      ifaces.push({ name: "eth1", router: other, ip: `10.${oi}.0.${hosts[other]}`, ip_v6: null, ll_v6: null, link_condition: { latency_ms: 25, loss_pct: 1 }, link_condition_down: null, is_up: true });
    }
    const dev = { ns: `lab1-d${d + 1}`, default_via: ifaceName, mtu: null, interfaces: ifaces, counters: {} };
    state.devices[name] = dev;
    emit("device_added", { name, ...dev });
    for (const i of ifaces) if (!state.routers[i.router].devices.includes(name)) state.routers[i.router].devices.push(name);
  }
  if (regionNames.length === 2 && routers >= 10) {
    emit("region_link_broken", { router_a: "region_us", router_b: "region_eu", condition: null });
    state.region_links[0].broken = true;
    state.region_links[0].condition = null;
  }
  state.opid = opid - 1;
  return { events, state };
}

// Writes a run directory: events.jsonl, state.json and any extra files given as {name: text}.
export function writeRun(dir, { events, state }, extra = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "events.jsonl"), events.map((e) => JSON.stringify(e)).join("\n") + "\n");
  writeFileSync(join(dir, "state.json"), JSON.stringify(state, null, 2) + "\n");
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
}
