// The member's live QR code: count down, fetch a fresh code before the shown one expires, and keep
// the typed fallback in step. Also wires [data-print] buttons (no inline scripts: CSP script-src 'self').
(function () {
  "use strict";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var box = document.getElementById("live-qr");
  var countdown = document.getElementById("qr-countdown");
  if (!box || !countdown) { return; }
  var tokenText = document.getElementById("qr-token");
  var LIFETIME_MS = 90 * 1000;  // a code is accepted for at least 90 s after it was fetched
  var remaining = parseInt(countdown.dataset.seconds, 10) || 30;
  var lastFresh = Date.now();
  var busy = false;
  var stopped = false;
  var failed = false;

  function say(text) { countdown.textContent = text; }

  function showCountdown() { say(box.dataset.countdownText.replace("{s}", String(remaining))); }

  function refresh() {
    if (busy || stopped) { return; }
    busy = true;
    say(box.dataset.refreshingText);
    fetch(box.dataset.src, { cache: "no-store", credentials: "same-origin", headers: { Accept: "image/svg+xml" } })
      .then(function (r) {
        var type = r.headers.get("Content-Type") || "";
        if (r.redirected || r.status === 401) { throw new Error("signed-out"); }
        if (!r.ok || type.indexOf("image/svg+xml") !== 0) { throw new Error("failed"); }
        return r.text();
      })
      .then(function (text) {
        var svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
        if (!svg || svg.localName !== "svg" || !svg.getAttribute("data-token")) { throw new Error("failed"); }
        box.replaceChildren(document.importNode(svg, true));
        box.dataset.token = svg.getAttribute("data-token");
        if (tokenText) { tokenText.textContent = svg.getAttribute("data-token"); }
        box.classList.remove("qr-stale");
        remaining = parseInt(svg.getAttribute("data-refresh-in"), 10) || 30;
        lastFresh = Date.now();
        failed = false;
        showCountdown();
      })
      .catch(function (e) {
        failed = true;
        remaining = 10;  // try again soon
        if (e.message === "signed-out") {
          stopped = true;
          box.classList.add("qr-stale");
          say(box.dataset.signedOutText);
        } else {
          say(box.dataset.failedText);
        }
      })
      .then(function () { busy = false; });
  }

  setInterval(function () {
    if (stopped) { return; }
    if (Date.now() - lastFresh > LIFETIME_MS) { box.classList.add("qr-stale"); }
    remaining -= 1;
    if (remaining <= 0) { refresh(); } else if (!failed && !busy) { showCountdown(); }
  }, 1000);

  // A phone that slept or switched apps comes back with an old code: fetch a new one at once.
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && Date.now() - lastFresh > 5000) { refresh(); }
  });
}());
