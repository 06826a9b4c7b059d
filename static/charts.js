// charts.js — uPlot line charts with ModelFactory's palette and theme.
//
// Markup (rendered by views.Chart):
//   <figure class="chart" data-chart [sse-swap="loss"]>
//     <script type="application/json">{"x":[…],"y":[[…],…],"series":[{"label","unit"}],…}</script>
//     <div class="chart-plot"></div>
//   </figure>
// Inside an sse-connect element, each SSE message of the named event appends
// points: {"x": 12, "y": [2.31, 2.45]} or an array of those. The chart
// follows the light/dark theme and the width of its container.
(() => {
  "use strict";

  const charts = new Map(); // element -> {u, spec}

  function cssVar(name) {
    const probe = document.createElement("span");
    probe.style.color = `var(${name})`;
    document.body.appendChild(probe);
    const v = getComputedStyle(probe).color;
    probe.remove();
    return v;
  }

  function fmt(v, unit) {
    if (v == null || Number.isNaN(v)) return "—";
    const a = Math.abs(v);
    const s = a !== 0 && (a < 0.001 || a >= 1e6) ? v.toExponential(2) : +v.toPrecision(4);
    return unit ? `${s} ${unit}` : String(s);
  }

  function options(el, spec) {
    const palette = window.MF ? window.MF.palette() : ["#4f46e5"];
    const muted = cssVar("--text-muted");
    const grid = cssVar("--border");
    const axis = (label) => ({
      label,
      stroke: muted,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: "12px system-ui, sans-serif",
      labelFont: "12px system-ui, sans-serif",
    });
    return {
      width: Math.max(el.clientWidth, 200),
      height: spec.height || 260,
      scales: { x: { time: false } },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: spec.xLabel || "step", value: (u, v) => fmt(v, "") },
        ...(spec.series || []).map((s, i) => ({
          label: s.label,
          stroke: palette[i % palette.length],
          width: 2,
          spanGaps: true,
          points: { show: false },
          value: (u, v) => fmt(v, s.unit || ""),
        })),
      ],
      axes: [axis(spec.xLabel || ""), axis(spec.yLabel || "")],
    };
  }

  function build(el) {
    if (typeof window.uPlot !== "function") return;
    const old = charts.get(el);
    let spec = old && old.spec;
    if (!spec) {
      const src = el.querySelector('script[type="application/json"]');
      try {
        spec = JSON.parse(src ? src.textContent : "{}");
      } catch (_) {
        el.querySelector(".chart-plot").textContent = "This chart's data could not be read.";
        return;
      }
      spec.x = spec.x || [];
      spec.y = (spec.series || []).map((_, i) => (spec.y && spec.y[i]) || spec.x.map(() => null));
    }
    if (old) old.u.destroy();
    const target = el.querySelector(".chart-plot") || el;
    const u = new window.uPlot(options(el, spec), [spec.x, ...spec.y], target);
    charts.set(el, { u, spec });
  }

  function append(el, point) {
    const c = charts.get(el);
    if (!c || typeof point !== "object" || point === null) return;
    const { spec } = c;
    spec.x.push(Number(point.x));
    spec.y.forEach((ys, i) => ys.push(Array.isArray(point.y) && point.y[i] != null ? Number(point.y[i]) : null));
    const max = spec.maxPoints || 5000;
    if (spec.x.length > max) {
      spec.x.splice(0, spec.x.length - max);
      spec.y.forEach((ys) => ys.splice(0, ys.length - max));
    }
    c.u.setData([spec.x, ...spec.y]);
  }

  function scan(root) {
    for (const el of root.querySelectorAll("[data-chart]")) if (!charts.has(el)) build(el);
  }

  // Live points: the SSE extension fires htmx:sseBeforeMessage on the chart;
  // cancelling it stops htmx swapping the JSON into the page as HTML.
  document.addEventListener("htmx:sseBeforeMessage", (e) => {
    const el = e.target instanceof Element ? e.target.closest("[data-chart]") : null;
    if (!el) return;
    e.preventDefault();
    try {
      const data = JSON.parse(e.detail.data);
      for (const p of Array.isArray(data) ? data : [data]) append(el, p);
    } catch (_) { /* a malformed message must not break the page */ }
  });

  const ro = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const c = charts.get(entry.target);
      if (c) c.u.setSize({ width: Math.max(entry.contentRect.width, 200), height: c.spec.height || 260 });
    }
  });

  function rebuildAll() { for (const el of charts.keys()) build(el); }

  function init() {
    scan(document);
    for (const el of charts.keys()) ro.observe(el);
    new MutationObserver(rebuildAll).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", rebuildAll);
    document.addEventListener("htmx:afterSettle", (e) => {
      scan(e.target);
      for (const el of charts.keys()) ro.observe(el);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();

  window.MFCharts = Object.freeze({ build, append });
})();
