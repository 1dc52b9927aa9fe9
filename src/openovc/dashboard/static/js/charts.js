// Charts drawn as SVG here, so that nothing is loaded from elsewhere: time series and a backup timeline.

import { h, svg } from "./dom.js";

export const COLORS = ["#01a982", "#2f6fdb", "#d98e04", "#8e44ad", "#d0373f", "#0aa2c0"];
const WIDTH = 640; // before the chart is shown, and the timeline's
const PAD = { left: 64, right: 12, top: 10, bottom: 26 };

// The top of the axis: four equal steps of a round size (1, 2, 2.5 or 5 times a power of ten), in
// the binary unit the value is written in when it counts bytes (GiB, TiB...).
function niceMax(value, binary) {
  const unit = binary && value >= 1024 ? 1024 ** Math.floor(Math.log(value / 4) / Math.log(1024)) : 1;
  const quarter = Math.max(value, binary ? 1024 : 1) / 4 / unit;
  const power = 10 ** Math.floor(Math.log10(quarter));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= quarter) return 4 * m * power * unit;
  return 40 * power * unit;
}

function timeTicks(t0, t1, n) {
  const span = t1 - t0;
  const out = [];
  for (let i = 0; i <= n; i += 1) out.push(t0 + (span * i) / n);
  return out;
}

function timeLabel(t, span) {
  const iso = new Date(t * 1000).toISOString();
  if (span <= 2 * 86400) return iso.slice(11, 16);
  if (span <= 120 * 86400) return iso.slice(5, 10) + (span <= 8 * 86400 ? " " + iso.slice(11, 13) + "h" : "");
  return iso.slice(0, 7);
}

// series: [{name, color?, points: [[unixSeconds, value], ...]}]; format: value -> text.
export function lineChart(series, options = {}) {
  const box = h("div", { class: "chart" });
  if (!series.some((s) => s.points.length)) {
    box.append(h("div", { class: "chart-empty" }, "No data points in this window"));
    return box;
  }
  return responsive(box, (width) => plotAt(series, { ...options, width }));
}

// Draws into `box` at the width it is shown at, so that text keeps its size, and again when that changes.
function responsive(box, build) {
  let drawn = 0;
  const draw = (width) => {
    drawn = width;
    box.replaceChildren(...build(width));
  };
  draw(WIDTH);
  new ResizeObserver(() => {
    const width = Math.round(box.clientWidth);
    if (width > 0 && Math.abs(width - drawn) > 4) draw(width);
  }).observe(box);
  return box;
}

function plotAt(series, { format = String, height = 200, area = false, min = 0, width = WIDTH, binary = false }) {
  const all = series.flatMap((s) => s.points);
  const W = width;
  const t0 = Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(t0 + 1, ...all.map((p) => p[0]));
  const top = niceMax(Math.max(...all.map((p) => p[1])), binary);
  const bottom = Math.min(min, ...all.map((p) => p[1]));
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - bottom) / (top - bottom || 1)) * (height - PAD.top - PAD.bottom);

  const grid = svg("g", { class: "grid" });
  const axis = svg("g", { class: "axis" });
  for (let i = 0; i <= 4; i += 1) {
    const v = bottom + ((top - bottom) * i) / 4;
    grid.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    axis.append(svg("text", { x: PAD.left - 8, y: y(v) + 4, "text-anchor": "end" }, format(v)));
  }
  for (const t of timeTicks(t0, t1, 5)) {
    axis.append(svg("text", { x: x(t), y: height - 6, "text-anchor": "middle" }, timeLabel(t, t1 - t0)));
  }
  const lines = svg("g", { class: "series" });
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    if (area && s.points.length) {
      const last = s.points[s.points.length - 1];
      const fill = `${d}L${x(last[0]).toFixed(1)},${y(bottom)}L${x(s.points[0][0]).toFixed(1)},${y(bottom)}Z`;
      lines.append(svg("path", { d: fill, class: "area", fill: color, stroke: "none" }));
    }
    lines.append(svg("path", { d, stroke: color }));
  });
  const cursor = svg("line", { class: "cursor", y1: PAD.top, y2: height - PAD.bottom, visibility: "hidden" });
  const baseline = svg("line", { class: "baseline", x1: PAD.left, x2: W - PAD.right, y1: y(bottom), y2: y(bottom) });
  const plot = svg("svg", { viewBox: `0 0 ${W} ${height}`, role: "img" }, grid, baseline, lines, axis, cursor);
  const tip = h("div", { class: "chart-tip", hidden: true });
  const times = [...new Set(all.map((p) => p[0]))].sort((a, b) => a - b);

  plot.addEventListener("mousemove", (event) => {
    const rect = plot.getBoundingClientRect();
    const px = ((event.clientX - rect.left) / rect.width) * W;
    const t = t0 + ((px - PAD.left) / (W - PAD.left - PAD.right)) * (t1 - t0);
    let near = times[0];
    for (const each of times) if (Math.abs(each - t) < Math.abs(near - t)) near = each;
    cursor.setAttribute("x1", x(near));
    cursor.setAttribute("x2", x(near));
    cursor.setAttribute("visibility", "visible");
    const rows = series.map((s) => {
      const p = s.points.find((q) => q[0] === near);
      return p ? `${s.name}: ${format(p[1])}` : null;
    }).filter(Boolean);
    tip.textContent = `${new Date(near * 1000).toISOString().slice(0, 16).replace("T", " ")} · ${rows.join(" · ")}`;
    tip.style.left = `${(x(near) / W) * rect.width}px`;
    tip.style.top = `${event.clientY - rect.top}px`;
    tip.hidden = false;
  });
  plot.addEventListener("mouseleave", () => {
    cursor.setAttribute("visibility", "hidden");
    tip.hidden = true;
  });
  return [plot, tip, legend(series)];
}

export function legend(series) {
  return h("div", { class: "chart-legend" },
    series.map((s, i) => h("span", {}, h("i", { style: `background:${s.color || COLORS[i % COLORS.length]}` }), s.name)));
}

// The three performance series of a metrics answer ({metrics: [{name, data_points: [{reads, writes, date}]}]}).
export function performanceCharts(answer, formats) {
  return (answer.metrics || []).map((metric) => {
    const points = metric.data_points || [];
    const series = [
      { name: "reads", points: points.map((p) => [Date.parse(p.date) / 1000, p.reads]) },
      { name: "writes", points: points.map((p) => [Date.parse(p.date) / 1000, p.writes]) },
    ];
    const binary = metric.name === "throughput";
    return { name: metric.name, chart: lineChart(series, { format: formats[metric.name] || String, height: 170, binary }) };
  });
}

// Backups as dots on a time axis, one row per place they are kept; `rows` is [{label, items: [{t, state, title}]}].
export function timeline(rows, options) {
  return responsive(h("div", { class: "chart" }), (width) => [timelineAt(rows, { ...options, width })]);
}

function timelineAt(rows, { from, to, colorOf, width }) {
  const W = width;
  const rowH = 30;
  const height = PAD.top + rows.length * rowH + PAD.bottom;
  const left = 140;
  const x = (t) => left + ((t - from) / Math.max(1, to - from)) * (W - left - PAD.right);
  const plot = svg("svg", { viewBox: `0 0 ${W} ${height}`, class: "timeline", role: "img" });
  const axis = svg("g", { class: "axis" });
  for (const t of timeTicks(from, to, 5)) {
    axis.append(svg("text", { x: x(t), y: height - 6, "text-anchor": "middle" }, timeLabel(t, to - from)));
  }
  rows.forEach((row, i) => {
    const cy = PAD.top + i * rowH + rowH / 2;
    plot.append(svg("line", { x1: left, x2: W - PAD.right, y1: cy, y2: cy, stroke: "#e3e7ed" }));
    axis.append(svg("text", { x: left - 10, y: cy + 4, "text-anchor": "end" }, row.label));
    for (const item of row.items) {
      plot.append(svg("circle", { cx: x(item.t), cy, r: 5, fill: colorOf(item.state) }, svg("title", {}, item.title)));
    }
  });
  plot.append(axis);
  return plot;
}
