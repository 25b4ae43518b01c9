// mofgen dashboard: plots (plotly.js) and the 3D structure view (3Dmol.js), no CDN.
"use strict";

function plot(id, traces, title, xaxis, yaxis, extra) {
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined") return;
  Plotly.newPlot(el, traces, Object.assign({
    title: { text: title, font: { size: 14 } }, margin: { t: 40, r: 10, b: 45, l: 55 },
    xaxis: { title: { text: xaxis } }, yaxis: { title: { text: yaxis } },
  }, extra || {}), { displaylogo: false, responsive: true });
}

async function fetchCharts(section) {
  const name = section.dataset.campaign;
  const response = await fetch(`/api/campaigns/${encodeURIComponent(name)}/charts`);
  if (!response.ok) { section.insertAdjacentText("beforeend", "charts unavailable"); return null; }
  return response.json();
}

const binMiddles = (e) => e.slice(0, -1).map((a, i) => (a + e[i + 1]) / 2);

// how each chart type the kinds declare (mofgen.kinds.base) is drawn from its series
const DRAW = {
  funnel: (p, c) => plot(`plot-${p.id}`, [{ type: "funnel", y: c.states,
                                              x: c.states.map((s) => c.reached[s] || 0) }],
                         "Funnel: structures that reached each state", "", ""),
  throughput: (p, c) => plot(`plot-${p.id}`, Object.entries(c.throughput).map(([stage, n]) => (
    { type: "scatter", mode: "lines+markers", name: stage, x: c.time, y: n })),
                             "Throughput per stage", "time", "structures per bin"),
  cumulative: (p, c) => plot(`plot-${p.id}`, [{ type: "scatter", mode: "lines", x: c.time,
                                                  y: c[p.key], line: { shape: "hv" } }],
                             p.title, "time", "cumulative count"),
  samples: (p, c) => plot(`plot-${p.id}`, c[p.key].map((h) => (
    { type: "box", name: `h${h.hour}`, y: h.values, boxpoints: false, showlegend: false })),
                          p.title, "hour", p.unit || ""),
  histogram: (p, c) => {
    const e = c[p.key].edges;
    const extra = {};
    if (!e.length) {
      extra.annotations = [{ text: p.empty || "nothing yet", showarrow: false, xref: "paper",
                             yref: "paper", x: 0.5, y: 0.5 }];
    } else if (p.marker !== null && p.marker !== undefined) {
      extra.shapes = [{ type: "line", x0: p.marker, x1: p.marker, yref: "paper", y0: 0, y1: 1,
                        line: { dash: "dot", color: "#a40" } }];
    }
    plot(`plot-${p.id}`, [{ type: "bar", x: binMiddles(e), y: c[p.key].counts,
                            width: e.length > 1 ? e[1] - e[0] : undefined }],
         p.title, p.unit, p.noun, extra);
  },
};

// a figure built on the server (e.g. a phase diagram), embedded in the page
async function drawFigure(holder) {
  const id = holder.dataset.figure;
  const data = JSON.parse(document.getElementById(`${id}-data`).textContent);
  const el = document.getElementById(`plot-${id}`);
  if (!el || !data.figure || typeof Plotly === "undefined") return;
  await Plotly.newPlot(el, data.figure.data, data.figure.layout,
                       { displaylogo: false, responsive: true });
  el.on("plotly_click", (ev) => {  // points carry their structure id as customdata
    const sid = ev.points && ev.points[0] && ev.points[0].customdata;
    if (sid) window.location.href = `/structures/${encodeURIComponent(sid)}`;
  });
  el.dataset.rendered = "true";
}

async function campaignCharts(section) {
  for (const holder of section.querySelectorAll("[data-figure]")) await drawFigure(holder);
  const c = await fetchCharts(section);
  if (!c) return;
  for (const p of [{ type: "funnel", id: "funnel" }, { type: "throughput", id: "throughput" },
                   ...c.plots]) {
    if (DRAW[p.type]) DRAW[p.type](p, c);
  }
  section.dataset.rendered = "true";
}

async function structureViewer(el) {
  if (typeof $3Dmol === "undefined") return;
  const cif = await (await fetch(el.dataset.cif)).text();
  const viewer = $3Dmol.createViewer(el, { backgroundColor: "white" });
  const model = viewer.addModel(cif, "cif");
  viewer.setStyle({}, { stick: { radius: 0.12 }, sphere: { scale: 0.22 } });
  viewer.addUnitCell(model, { box: { color: "#446" } });
  viewer.zoomTo();
  viewer.render();
  el.dataset.rendered = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  const charts = document.getElementById("charts");
  if (charts) campaignCharts(charts);
  const viewer = document.getElementById("viewer");
  if (viewer) structureViewer(viewer);
});
