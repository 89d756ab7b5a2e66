// Draws the outlet pages' charts with the vendored Chart.js (static/vendor/chartjs). Each
// <canvas data-chart="ID"> takes its numbers from <script type="application/json" id="ID"> (not
// executed, so the strict CSP allows it): {"type": "bar", "labels": [...], "series": [{"label", "data"}]}.
(function () {
  "use strict";
  var colours = ["#c0392b", "#2c7be5", "#27ae60", "#8e44ad"];
  function draw() {
    if (typeof window.Chart === "undefined") return;
    var canvases = document.querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      var block = document.getElementById(canvas.getAttribute("data-chart"));
      if (!block) return;
      var spec = JSON.parse(block.textContent);
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
          indexAxis: spec.labels.length > 12 ? "y" : "x",
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { beginAtZero: true, ticks: { precision: 0, autoSkip: false } } }
        }
      });
      canvas.setAttribute("data-drawn", "1");
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
