// Live charts of one pool: polls /api/v1/series/{pool} every 2 s and redraws
// four uPlot charts. The pool's name comes percent-encoded as data-path (a name
// may hold "/", "?", "#" or bytes that are not UTF-8). window.motorpoolCharts
// reports what was drawn (tests and curious people read it).
(function () {
  "use strict";
  var root = document.getElementById("charts");
  if (!root || typeof uPlot === "undefined") return;
  var pool = root.dataset.pool;
  var state = (window.motorpoolCharts = { pool: pool, updates: 0, points: 0, charts: {} });

  var colors = { active: "#1565c0", idle: "#90a4ae", waiting: "#e65100",
    p50: "#2e7d32", p95: "#f9a825", p99: "#c62828", tps: "#6a1b9a", errors: "#c62828" };

  function line(label, color) {
    return { label: label, stroke: color, width: 2, points: { show: false } };
  }

  var specs = {
    conns: { el: "chart-conns", series: [line("active", colors.active), line("idle", colors.idle), line("waiting", colors.waiting)],
      cols: function (d) { return [d.active, d.idle, d.waiting]; } },
    wait: { el: "chart-wait", series: [line("p50", colors.p50), line("p95", colors.p95), line("p99", colors.p99)],
      cols: function (d) { return [d.acquire_p50_ms, d.acquire_p95_ms, d.acquire_p99_ms]; } },
    tps: { el: "chart-tps", series: [line("xact/s", colors.tps)],
      cols: function (d) { return [d.transactions_per_second]; } },
    errors: { el: "chart-errors", series: [line("errors %", colors.errors)],
      cols: function (d) { return [d.error_rate.map(function (v) { return v * 100; })]; } }
  };

  // xRange is the data's span, or the last minute while there are fewer than two
  // samples (a pool with no traffic yet), which uPlot would stretch over years.
  function xRange(u, min, max) {
    if (min == null || max == null || max - min < 2) {
      var now = Date.now() / 1000;
      return [now - 60, now];
    }
    return [min, max];
  }

  function width(el) { return Math.max(el.clientWidth || 0, 280); }

  function make(key, data) {
    var spec = specs[key];
    var el = document.getElementById(spec.el);
    var opts = {
      width: width(el), height: 180,
      scales: { x: { time: true, range: xRange }, y: { range: function (u, min, max) { return [0, Math.max(max, 1)]; } } },
      series: [{}].concat(spec.series),
      legend: { live: false }
    };
    return new uPlot(opts, data, el);
  }

  function update(d) {
    Object.keys(specs).forEach(function (key) {
      var data = [d.time].concat(specs[key].cols(d));
      var c = state.charts[key];
      if (!c) {
        state.charts[key] = make(key, data);
      } else {
        c.setData(data);
      }
    });
    state.updates++;
    state.points = d.time.length;
  }

  function poll() {
    var path = "/api/v1/series/" + root.dataset.path;
    var live = window.motorpoolLive;
    fetch(path + "?span=300")
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (d) {
        update(d);
        delete state.error;
        if (live) live.ok(path);
      })
      .catch(function (e) {
        state.error = String(e);
        if (live) live.failed(path, typeof e === "number" ? e : 0);
      });
  }

  window.addEventListener("resize", function () {
    Object.keys(state.charts).forEach(function (key) {
      var el = document.getElementById(specs[key].el);
      state.charts[key].setSize({ width: width(el), height: 180 });
    });
  });
  poll();
  setInterval(poll, 2000);
})();
