// Draws a report's chart with the vendored Chart.js (static/vendor/chartjs). The numbers come from the
// page's <script type="application/json" id="report-chart-data"> block (not executed, so the strict CSP
// allows it): {"type": "bar", "labels": [...], "series": [{"label": "...", "data": [...]}, ...]}.
(function () {
  "use strict";
  function draw() {
    var canvas = document.getElementById("report-chart");
    var block = document.getElementById("report-chart-data");
    if (!canvas || !block || typeof window.Chart === "undefined") return;
    var spec = JSON.parse(block.textContent);
    var colours = ["#c0392b", "#2c7be5", "#27ae60", "#8e44ad"];
    new window.Chart(canvas, {
      type: spec.type || "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          return { label: s.label, data: s.data, backgroundColor: colours[i % colours.length] };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
