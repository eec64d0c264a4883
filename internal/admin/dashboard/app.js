// Albatross dashboard: polls dashboard/state and renders it. Every value from the
// server is inserted as text (never as HTML): request lines come from clients.
"use strict";

const POLL_MS = 2000;
const WINDOW_MS = 60000;   // rates, status mix and percentiles cover this window
const HISTORY = 150;       // readings kept per load balancer (5 minutes)
const history = new Map(); // load balancer resource id -> [{t, c}]

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function fmtRate(v) {
  if (v === null || !isFinite(v)) return "–";
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function fmtBytes(v) {
  if (v === null || !isFinite(v)) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return v.toFixed(v >= 10 || i === 0 ? 0 : 1) + " " + units[i];
}

function fmtSeconds(s) {
  if (s === null || !isFinite(s)) return "–";
  if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 1 : 0) + " ms";
  return s.toFixed(2) + " s";
}

// quantile estimates a quantile from cumulative bucket counts, interpolating
// linearly inside the bucket, as Prometheus's histogram_quantile does.
function quantile(q, bounds, cum, count) {
  if (!count) return null;
  const rank = q * count;
  let prevBound = 0, prevCum = 0;
  for (let i = 0; i < bounds.length; i++) {
    if (cum[i] >= rank) {
      const inBucket = cum[i] - prevCum;
      const frac = inBucket ? (rank - prevCum) / inBucket : 1;
      return prevBound + (bounds[i] - prevBound) * frac;
    }
    prevBound = bounds[i]; prevCum = cum[i];
  }
  return bounds[bounds.length - 1]; // above the last bound
}

// flatten reduces a load balancer's counters to the totals the page compares
// between readings.
function flatten(c) {
  const f = { logged: c.logged_requests, bytes: c.processed_bytes, newConns: c.new_connections,
    requests: 0, classes: { "2": 0, "3": 0, "4": 0, "5": 0 }, elb: {}, bounds: null, cum: null, count: 0 };
  for (const [code, n] of Object.entries(c.elb_codes)) {
    f.elb[code] = n;
    const k = code[0];
    if (k in f.classes) f.classes[k] += n;
  }
  for (const g of c.target_groups) {
    const h = g.target_response_time;
    if (!f.bounds) { f.bounds = h.bounds; f.cum = h.cumulative.map(() => 0); }
    h.cumulative.forEach((n, i) => { f.cum[i] += n; });
    f.count += h.count;
    for (const t of g.targets) {
      f.requests += t.requests;
      for (const [cls, n] of Object.entries(t.codes)) {
        const k = cls[0];
        if (k in f.classes) f.classes[k] += n;
      }
    }
  }
  return f;
}

// windowed returns the difference between the newest reading and the oldest one
// within the window, and the seconds between them.
function windowed(readings) {
  const last = readings[readings.length - 1];
  let first = readings[0];
  for (const r of readings) { if (last.t - r.t <= WINDOW_MS) { first = r; break; } }
  const secs = (last.t - first.t) / 1000;
  const a = first.c, b = last.c;
  const d = { secs, logged: b.logged - a.logged, requests: b.requests - a.requests, bytes: b.bytes - a.bytes,
    newConns: b.newConns - a.newConns, classes: {}, elb: {}, count: b.count - a.count,
    cum: b.cum ? b.cum.map((n, i) => n - (a.cum ? a.cum[i] : 0)) : null, bounds: b.bounds };
  for (const k of Object.keys(b.classes)) d.classes[k] = b.classes[k] - (a.classes[k] || 0);
  for (const k of Object.keys(b.elb)) d.elb[k] = b.elb[k] - (a.elb[k] || 0);
  return d;
}

function kpi(value, label, id) {
  return el("div", { class: "kpi", "data-kpi": id }, el("b", {}, value), el("span", {}, label));
}

function sparkline(readings) {
  const c = el("canvas", { width: 900, height: 60, "aria-label": "request rate, last 5 minutes" });
  const pts = [];
  for (let i = 1; i < readings.length; i++) {
    const dt = (readings[i].t - readings[i - 1].t) / 1000;
    if (dt > 0) pts.push((readings[i].c.logged - readings[i - 1].c.logged) / dt);
  }
  const ctx = c.getContext && c.getContext("2d");
  if (!ctx || pts.length < 2) return c;
  const top = Math.max(1, ...pts);
  ctx.strokeStyle = "#2456a6"; ctx.lineWidth = 2; ctx.beginPath();
  pts.forEach((v, i) => {
    const x = (i / (HISTORY - 2)) * c.width, y = c.height - 4 - (v / top) * (c.height - 8);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = "#6b7385"; ctx.font = "11px sans-serif";
  ctx.fillText("max " + fmtRate(top) + " req/s", 4, 12);
  return c;
}

function statusMix(d) {
  const total = Object.values(d.classes).reduce((a, b) => a + b, 0);
  const bar = el("div", { class: "mix", title: "status classes over the window" });
  const legend = el("div", { class: "legend" });
  for (const k of ["2", "3", "4", "5"]) {
    const n = d.classes[k] || 0;
    if (total) {
      // Through the CSSOM: the Content-Security-Policy forbids style attributes.
      const seg = el("div", { class: "c" + k });
      seg.style.width = (100 * n / total) + "%";
      bar.append(seg);
    }
    legend.append(el("span", { "data-class": k + "xx" }, el("i", { class: "c" + k }), k + "xx " + (total ? (100 * n / total).toFixed(1) : "0") + "%"));
  }
  return [bar, legend];
}

function elbCodeTable(totals, d) {
  const codes = Object.keys(totals).sort();
  const head = el("tr", {}, el("th", {}, "ELB code"), codes.map(c => el("th", { class: "num" }, c)));
  const tot = el("tr", {}, el("td", {}, "total"), codes.map(c => el("td", { class: "num" + (totals[c] ? "" : " zero"), "data-elb-code": c }, totals[c])));
  const rate = el("tr", {}, el("td", {}, "per s"), codes.map(c => el("td", { class: "num" + (d.elb[c] ? "" : " zero") }, d.secs > 0 ? fmtRate((d.elb[c] || 0) / d.secs) : "–")));
  return el("table", { class: "codes" }, el("thead", {}, head), el("tbody", {}, tot, rate));
}

function targetRow(t, counters) {
  const state = t.health_state || "unknown";
  return el("li", { "data-target": t.target, title: t.health_description || null },
    "target ", el("b", {}, t.target), " ",
    el("span", { class: "state " + state }, state),
    t.health_reason && t.health_reason !== "-" ? " " + t.health_reason : "",
    counters ? el("span", { class: "muted" },
      "  requests " + counters.requests +
      " · 2xx " + counters.codes["2XX"] + " · 4xx " + counters.codes["4XX"] + " · 5xx " + counters.codes["5XX"] +
      " · connection errors " + counters.connection_errors + " · open connections " + counters.open_connections) : "");
}

function tree(lb) {
  const groups = new Map(lb.target_groups.map(g => [g.name, g]));
  const counters = new Map();
  for (const g of (lb.counters ? lb.counters.target_groups : [])) {
    for (const t of g.targets) counters.set(g.arn + " " + t.target, t);
  }
  const groupItem = (name, weight, shared) => {
    const g = groups.get(name);
    return el("li", {}, "target group ", el("b", {}, name), shared ? " (weight " + weight + ")" : "",
      g ? el("ul", {}, g.targets.length ? g.targets.map(t => targetRow(t, counters.get(g.arn + " " + t.target)))
        : el("li", { class: "muted" }, "no registered targets (503)")) : "");
  };
  const action = a => {
    const tgs = a.target_groups || [];
    return el("li", {}, a.type + (a.detail ? " " + a.detail : ""),
      tgs.length ? el("ul", {}, tgs.map(t => groupItem(t.name, t.weight, tgs.length > 1))) : "");
  };
  const listeners = lb.listeners.map(l => el("li", {},
    "listener ", el("b", {}, l.protocol + " " + l.address),
    el("ul", {}, (l.rules || []).map(r => el("li", { "data-rule": r.priority },
      "rule " + r.priority + (r.conditions && r.conditions.length ? " if " + r.conditions.join(" and ") : ""),
      el("ul", {}, r.actions.map(action)))))));
  return el("div", { class: "tree" }, el("ul", {}, listeners));
}

function renderLB(lb, now) {
  const id = lb.resource_id;
  let readings = history.get(id) || [];
  if (lb.counters) {
    readings.push({ t: now, c: flatten(lb.counters) });
    if (readings.length > HISTORY) readings = readings.slice(-HISTORY);
    history.set(id, readings);
  }
  const box = el("div", { class: "lb", "data-lb": id });
  box.append(el("h2", {}, "Load balancer " + lb.name + " ",
    el("small", {}, id + " · " + lb.dns_name + " · idle timeout " + lb.idle_timeout_seconds + " s")));
  if (!lb.counters || readings.length === 0) {
    box.append(el("p", { class: "muted" }, "No metrics for this load balancer."), tree(lb));
    return box;
  }
  const d = windowed(readings);
  const per = v => d.secs > 0 ? fmtRate(v / d.secs) : "–";
  // Status mix and percentiles cover the window, or everything since the node
  // started when the window saw no request.
  const last = readings[readings.length - 1].c;
  const recent = Object.values(d.classes).some(n => n > 0);
  const mix = recent ? d : last;
  const mixLabel = recent ? "last " + Math.round(d.secs) + " s" : "since start (nothing in the last " + WINDOW_MS / 1000 + " s)";
  const h = d.count > 0 ? d : last;
  const hLabel = d.count > 0 ? " (" + WINDOW_MS / 1000 + " s)" : " (since start)";
  const q = p => h.cum ? fmtSeconds(quantile(p, h.bounds, h.cum, h.count)) : "–";
  box.append(el("div", { class: "kpis" },
    kpi(per(d.logged), "requests/s", "rate"),
    kpi(per(d.requests), "RequestCount/s (to targets)", "request-count"),
    kpi(lb.counters.active_connections, "active client connections", "active"),
    kpi(per(d.newConns), "new connections/s", "new-conns"),
    kpi(d.secs > 0 ? fmtBytes(d.bytes / d.secs) + "/s" : "–", "processed bytes", "bytes"),
    kpi(q(0.5), "p50 target response" + hLabel, "p50"),
    kpi(q(0.9), "p90" + hLabel, "p90"),
    kpi(q(0.99), "p99" + hLabel, "p99"),
  ));
  box.append(el("h3", {}, "Request rate ", el("small", {}, "last 5 minutes")), sparkline(readings));
  box.append(el("h3", {}, "Status mix ", el("small", {}, mixLabel + ", targets' and the load balancer's own codes")), ...statusMix(mix));
  box.append(elbCodeTable(lb.counters.elb_codes, d));
  box.append(el("h3", {}, "Listeners, rules, target groups and targets"), tree(lb));
  return box;
}

function renderErrors(errors) {
  const body = document.querySelector("#errors tbody");
  body.replaceChildren(...errors.map(e => el("tr", { "data-code": e.code },
    el("td", {}, e.time.replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1").replace("Z", "")),
    el("td", { class: e.code === 460 ? "code460" : "code5" }, e.code),
    el("td", {}, e.load_balancer),
    el("td", {}, e.target),
    el("td", { class: "req" }, e.request || "- - -"),
    el("td", {}, e.error_reason || "-"),
    el("td", {}, e.classification || "-"))));
  document.getElementById("errors-empty").hidden = errors.length > 0;
}

function renderFindings(findings) {
  const ul = document.getElementById("findings");
  ul.replaceChildren(...(findings.length ? findings.map(f => el("li", { class: f.severity }, el("b", {}, f.subject + ": "), f.message))
    : [el("li", { class: "muted" }, "No findings.")]));
}

function fmtTime(t) {
  return t ? t.replace("T", " ").replace(/(\.\d{3})?\d*Z$/, "").replace("Z", "") : "–";
}

// renderNodes shows the cluster's nodes, from their leases in the store; a
// node on its own has none.
function renderNodes(st) {
  const section = document.getElementById("cluster");
  section.hidden = !st.node;
  if (!st.node) return;
  document.getElementById("cluster-note").textContent = "(this is node " + st.node +
    "; target health and counters below are its own view)" + (st.nodes_error ? " · cannot list the nodes: " + st.nodes_error : "");
  document.querySelector("#nodes tbody").replaceChildren(...(st.nodes || []).map(n => el("tr", { "data-node": n.name, class: n.self ? "self" : null },
    el("td", {}, n.name + (n.self ? " (this node)" : "")),
    el("td", { class: n.status === "ok" ? null : "bad" }, n.status),
    el("td", {}, n.admin_addr || "–"),
    el("td", {}, n.listen_address),
    el("td", {}, n.listeners),
    el("td", {}, n.revision),
    el("td", {}, fmtTime(n.started_at)),
    el("td", {}, fmtTime(n.updated_at)),
    el("td", {}, n.version))));
}

function render(st) {
  const now = Date.parse(st.time) || Date.now();
  document.getElementById("version").textContent = st.version || "";
  const note = document.getElementById("health-note");
  note.hidden = st.health === "checked";
  note.textContent = st.health === "checked" ? "" : "Target health: " + st.health + ".";
  renderNodes(st);
  document.getElementById("lbs").replaceChildren(...st.load_balancers.map(lb => renderLB(lb, now)));
  renderErrors(st.recent_errors);
  renderFindings(st.findings);
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const resp = await fetch("dashboard/state", { cache: "no-store" });
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    const st = await resp.json();
    render(st);
    status.textContent = "updated " + new Date(st.time).toLocaleTimeString();
    status.className = "status";
    document.body.dataset.loaded = "true";
  } catch (err) {
    status.textContent = "update failed: " + err.message;
    status.className = "status bad";
  }
  setTimeout(poll, POLL_MS);
}

poll();
