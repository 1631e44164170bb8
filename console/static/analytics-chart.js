// The analytics page's trend chart: uPlot (vendored) draws the series the page carries as
// JSON next to the chart's box. Without JavaScript the table under it holds the same figures.
(function () {
  "use strict";
  var COLOURS = ["#1f4fd1", "#1a8f5a", "#9aa3b5"];

  function draw(box) {
    var data = JSON.parse(document.getElementById(box.dataset.chart).textContent);
    var x = data.x.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
    var series = [{}].concat(data.series.map(function (s, i) {
      return { label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, dash: i === 2 ? [6, 4] : undefined };
    }));
    var options = {
      width: box.clientWidth,
      height: 260,
      series: series,
      axes: [{}, { size: 70 }],
      scales: { x: { time: true } },
      legend: { live: false },
    };
    var plot = new uPlot(options, [x].concat(data.series.map(function (s) { return s.values; })), box);
    new ResizeObserver(function () { plot.setSize({ width: box.clientWidth, height: 260 }); }).observe(box);
    box.dataset.drawn = "true";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart]").forEach(draw);
  });
})();
