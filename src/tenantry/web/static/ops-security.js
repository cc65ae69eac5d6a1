// The operator's security view: fetches /api/ops/security and draws SVG line plots.
// No library and no inline script (the page's CSP allows only this file).
"use strict";

const COLOURS = ["#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e67700", "#0c8599",
                 "#c2255c", "#5c940d", "#495057", "#1864ab"];
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4))
                                      : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// One colour per tenant across the three plots.
function colourOf(tenant) {
  let h = 0;
  for (const ch of tenant) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return COLOURS[h % COLOURS.length];
}

function plot(target, series) {
  target.replaceChildren();
  if (!series.length) {
    target.append(el("div", { class: "empty" }, "nothing in this window"));
    return;
  }
  const W = 560, H = 220, L = 44, B = 24, T = 8, R = 8;
  const times = series[0].points.map(p => Date.parse(p[0]));
  const max = Math.max(1, ...series.flatMap(s => s.points.map(p => p[1])));
  const x = t => L + (W - L - R) * (t - times[0]) / Math.max(1, times[times.length - 1] - times[0]);
  const y = v => H - B - (H - B - T) * v / max;
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(max * frac);
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e3e6eb" }));
    svg.append(el("svg:text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11 }, String(v)));
  }
  const ticks = [[0, "start"], [Math.floor(times.length / 2), "middle"], [times.length - 1, "end"]];
  for (const [i, anchor] of ticks) {
    const label = new Date(times[i]).toISOString().slice(11, 16);
    svg.append(el("svg:text", { x: x(times[i]), y: H - 6, "text-anchor": anchor, "font-size": 11 }, label));
  }
  const legend = el("div", { class: "legend" });
  series.slice(0, COLOURS.length).forEach(s => {
    const colour = colourOf(s.tenant);
    const d = s.points.map((p, k) => `${k ? "L" : "M"}${x(times[k]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    const path = el("svg:path", { d, fill: "none", stroke: colour, "stroke-width": 2, "data-tenant": s.tenant });
    path.append(el("svg:title", {}, s.tenant));
    svg.append(path);
    const item = el("span", {}, s.tenant);
    const swatch = el("i");
    swatch.style.background = colour;  // CSSOM, not a style attribute (CSP)
    item.prepend(swatch);
    legend.append(item);
  });
  target.append(svg, legend);
}

function rows(id, items, cells) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...items.map(item => {
    const tr = el("tr");
    for (const value of cells(item)) tr.append(el("td", {}, value == null ? "" : String(value)));
    return tr;
  }));
}

async function load() {
  const hours = document.getElementById("window").value;
  const status = document.getElementById("status");
  const response = await fetch(`/api/ops/security?hours=${hours}`, { credentials: "same-origin" });
  if (!response.ok) {
    status.textContent = `error ${response.status}`;
    return;
  }
  const data = await response.json();
  plot(document.getElementById("plot-requests"), data.requests);
  plot(document.getElementById("plot-errors"), data.errors);
  plot(document.getElementById("plot-security"), data.security_events);
  rows("by-code", Object.entries(data.by_code).sort((a, b) => b[1] - a[1]), ([c, n]) => [c, n]);
  rows("top-tenants", data.top_tenants, o => [o.label, o.count]);
  rows("top-users", data.top_users, o => [o.label, o.count]);
  rows("top-addresses", data.top_addresses, o => [o.label, o.count]);
  rows("recent", data.recent, e => [e.occurred_at.slice(0, 19).replace("T", " "), e.code, e.count, e.tenant,
                                    e.user_id, e.client, e.path, e.request_id]);
  status.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  document.body.dataset.loaded = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("window").addEventListener("change", load);
  load();
});
