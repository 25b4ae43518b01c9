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

async function campaignCharts(section) {
  const name = section.dataset.campaign;
  const response = await fetch(`/api/campaigns/${encodeURIComponent(name)}/charts`);
  if (!response.ok) { section.textContent = "charts unavailable"; return; }
  const c = await response.json();
  const states = ["generated", "validated", "simulated", "adsorbed", "retrained"];
  plot("plot-funnel", [{ type: "funnel", y: states, x: states.map((s) => c.reached[s] || 0) }],
       "Funnel: structures that reached each state", "", "");
  plot("plot-throughput", Object.entries(c.throughput).map(([stage, counts]) => (
    { type: "scatter", mode: "lines+markers", name: stage, x: c.time, y: counts })),
       "Throughput per stage", "time", "structures per bin");
  plot("plot-stable", [{ type: "scatter", mode: "lines", x: c.time, y: c.stable_cumulative,
                         line: { shape: "hv" } }],
       `Stable structures found (strain < ${c.stable_strain})`, "time", "cumulative count");
  plot("plot-strain", c.strain_by_hour.map((h) => (
    { type: "box", name: `h${h.hour}`, y: h.strains, boxpoints: false, showlegend: false })),
       "Strain distribution per hour of the run (sample)", "hour", "strain");
  const e = c.uptake_hist.edges;
  plot("plot-uptake", [{ type: "bar", x: e.slice(0, -1).map((a, i) => (a + e[i + 1]) / 2),
                         y: c.uptake_hist.counts }],
       "CO₂ uptake at 0.1 bar, 300 K", "mol/kg", "structures");
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
