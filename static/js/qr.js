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
  var shortText = document.getElementById("qr-short-code");
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
        if (shortText && svg.getAttribute("data-short-code")) { shortText.textContent = svg.getAttribute("data-short-code"); }
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

  // "Just redeemed": a panel another area puts on this page (app.area.register_page_slot) with
  // data-src, a small JSON list of the member's latest redemptions. Polled while the page is shown;
  // a new one is said aloud (aria-live) and a fresh code is fetched, since the shown one has paid.
  var live = document.getElementById("qr-redeemed");
  if (!live || !live.dataset.src) { return; }
  var list = live.querySelector("ul");
  var seen = null;  // ids already shown; null until the first answer
  var POLL_MS = 3000;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function show(data) {
    var items = data.redemptions || [];
    var fresh = false;
    var ids = {};
    list.replaceChildren();
    items.forEach(function (r) {
      ids[r.id] = true;
      var li = el("li", "redeemed-item");
      if (seen !== null && !seen[r.id]) { li.classList.add("redeemed-new"); fresh = true; }
      li.appendChild(el("strong", "", r.outlet));
      li.appendChild(el("span", "muted", " · " + r.time));
      var lines = el("ul", "redeemed-lines");
      r.lines.forEach(function (ln) { lines.appendChild(el("li", "", ln.text)); });
      li.appendChild(lines);
      li.appendChild(el("p", "redeemed-total", r.total_text));
      list.appendChild(li);
    });
    live.hidden = items.length === 0;
    var balance = live.querySelector("[data-available]");
    if (balance && data.available_text) { balance.textContent = data.available_text; }
    seen = ids;
    if (fresh) { refresh(); }
  }

  function poll() {
    if (document.hidden || stopped) { return; }
    fetch(live.dataset.src, { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.redirected || r.status === 401) { throw new Error("signed-out"); }
        if (!r.ok) { throw new Error("failed"); }
        return r.json();
      })
      .then(show)
      .catch(function () { /* the next poll tries again; the QR countdown says when signed out */ });
  }

  poll();
  setInterval(poll, POLL_MS);
}());
