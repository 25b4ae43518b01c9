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

// the plots every campaign kind has: how far its documents got, and how fast
function stageCharts(c, states, noun) {
  plot("plot-funnel", [{ type: "funnel", y: states, x: states.map((s) => c.reached[s] || 0) }],
       `Funnel: ${noun} that reached each state`, "", "");
  plot("plot-throughput", Object.entries(c.throughput).map(([stage, counts]) => (
    { type: "scatter", mode: "lines+markers", name: stage, x: c.time, y: counts })),
       "Throughput per stage", "time", `${noun} per bin`);
}

async function campaignCharts(section) {
  const c = await fetchCharts(section);
  if (!c) return;
  stageCharts(c, ["generated", "validated", "simulated", "adsorbed", "retrained"], "structures");
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

async function crystalCharts(section) {
  const pd = JSON.parse(document.getElementById("phase-diagram-data").textContent);
  const el = document.getElementById("plot-phase-diagram");
  if (el && pd.figure && typeof Plotly !== "undefined") {
    await Plotly.newPlot(el, pd.figure.data, pd.figure.layout,
                         { displaylogo: false, responsive: true });
    el.on("plotly_click", (ev) => {
      const id = ev.points && ev.points[0] && ev.points[0].customdata;
      if (id) window.location.href = `/structures/${encodeURIComponent(id)}`;
    });
    el.dataset.rendered = "true";
  }
  const c = await fetchCharts(section);
  if (!c) return;
  const e = c.ehull_hist.edges;
  const threshold = { type: "line", x0: c.hull_threshold, x1: c.hull_threshold, yref: "paper",
                      y0: 0, y1: 1, line: { dash: "dot", color: "#a40" } };
  plot("plot-ehull", [{ type: "bar", x: e.slice(0, -1).map((a, i) => (a + e[i + 1]) / 2),
                        y: c.ehull_hist.counts, width: e.length > 1 ? e[1] - e[0] : undefined }],
       "Energy above hull of simulated crystals", "E_hull (eV/atom)", "crystals",
       e.length ? { shapes: [threshold] } : { annotations: [{ text: "no simulated crystals yet",
         showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] });
  stageCharts(c, c.states, "crystals");
  plot("plot-near-hull", [{ type: "scatter", mode: "lines", x: c.time, y: c.near_hull_cumulative,
                            line: { shape: "hv" } }],
       `Crystals near the hull (E_hull ≤ ${c.hull_threshold} eV/atom)`, "time", "cumulative count");
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
  const crystal = document.getElementById("crystal-charts");
  if (crystal) crystalCharts(crystal);
  const viewer = document.getElementById("viewer");
  if (viewer) structureViewer(viewer);
});
