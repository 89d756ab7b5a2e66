// Member import progress: poll the job's status.json and update the <progress> bar; when the import
// has finished (done, failed or cut off), reload the page to show the result. No inline scripts: CSP script-src 'self'.
(function () {
  "use strict";

  var box = document.querySelector("[data-import-status-url]");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-import-text]");
  var url = box.getAttribute("data-import-status-url");

  function show(s) {
    if (s.total_rows > 0) {
      bar.max = s.total_rows;
      bar.value = s.processed_rows;
      bar.textContent = s.processed_rows + " / " + s.total_rows;
    }
    if (s.status === "queued") {
      text.textContent = box.getAttribute("data-starting-text");
    } else {
      text.textContent = box.getAttribute("data-progress-text")
        .replace("{done}", String(s.processed_rows)).replace("{total}", String(s.total_rows));
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (s) {
        show(s);
        if (s.status !== "queued" && s.status !== "importing") {
          window.location.replace(box.getAttribute("data-done-url"));
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }

  poll();
})();
