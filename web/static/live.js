// Says so when what the dashboard shows stopped being live: motorpool does not
// answer (stopped, restarting), or this page's pool is gone (a reload removed
// it, or a per-user pool was closed when unused). The page keeps polling, and
// the notice goes as soon as every request is answered again. htmx's requests
// report here by themselves; charts.js reports its own through
// window.motorpoolLive.
(function () {
  "use strict";
  var failing = {}; // request path -> HTTP status of its last failure (0: no answer)
  var since = null; // when the first of the current failures began

  function render() {
    var el = document.getElementById("live");
    if (!el) return;
    var paths = Object.keys(failing);
    document.body.classList.toggle("stale", paths.length > 0);
    if (!paths.length) {
      since = null;
      el.hidden = true;
      el.textContent = "";
      return;
    }
    since = since || new Date();
    var gone = paths.some(function (p) { return failing[p] === 404; });
    var down = paths.every(function (p) { return failing[p] === 0; });
    var at = since.toLocaleTimeString();
    el.textContent = gone
      ? "This pool no longer exists: a configuration reload removed it, or it was closed when unused. What is shown is from " + at + ". "
      : down
        ? "motorpool is not answering since " + at + "; what is shown is from then. Trying again every 2 s. "
        : "motorpool answers with errors since " + at + " (HTTP " + paths.map(function (p) { return failing[p]; }).join(", ") + "). ";
    if (location.pathname !== "/") {
      var back = document.createElement("a");
      back.href = "/";
      back.textContent = "All pools";
      el.appendChild(back);
    }
    el.hidden = false;
  }

  var live = (window.motorpoolLive = {
    ok: function (path) {
      if (path in failing) {
        delete failing[path];
        render();
      }
    },
    failed: function (path, status) {
      failing[path] = status || 0;
      render();
    }
  });

  document.addEventListener("htmx:afterRequest", function (e) {
    var d = e.detail, path = d.pathInfo && d.pathInfo.requestPath;
    if (!path) return;
    if (d.successful) live.ok(path);
    else live.failed(path, d.xhr && d.xhr.status);
  });
})();
