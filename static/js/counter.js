// The outlet counter (爱心超市): read the member's QR code with the camera (jsQR, static/vendor/jsqr/)
// or take the short code they read out; show who they are and their points; build a cart from the
// outlet's items (search by typing part of a name); review; confirm once (the cart's key makes a
// double tap one redemption); then open the receipt. Texts come from data-* attributes of the page,
// already translated. No inline scripts (CSP script-src 'self').
(function () {
  "use strict";
  var root = document.getElementById("counter");
  if (!root) { return; }
  var T = root.dataset;  // texts and URLs
  var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content || "";

  function $(id) { return document.getElementById(id); }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? String(values[k]) : m; });
  }
  function show(el, on) { if (el) { el.hidden = !on; } }

  var state = { code: null, member: null, limits: {}, cart: {}, order: [], key: null, sending: false };

  // --- messages --------------------------------------------------------------------------------
  var errorBox = $("counter-error");
  function sayError(text) {
    errorBox.textContent = text || "";
    show(errorBox, !!text);
    if (text) { errorBox.scrollIntoView({ block: "nearest" }); }
  }
  function errorText(body) {
    var e = (body && body.error) || {};
    return e.message || T.failedText;
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(data)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.status === 401 || r.redirected) { return { ok: false, body: { error: { code: "signed_out", message: T.signedOutText } } }; }
        return { ok: r.ok, status: r.status, body: body };
      });
    });
  }

  // --- step 1: who is the member --------------------------------------------------------------
  var video = $("scan-video");
  var canvas = $("scan-canvas");
  var scanStatus = $("scan-status");
  var startBtn = $("scan-start");
  var stopBtn = $("scan-stop");
  var stream = null;
  var scanning = false;
  var lastMiss = "";

  function scanSay(text) { scanStatus.textContent = text; }

  function stopCamera() {
    scanning = false;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    stream = null;
    video.srcObject = null;
    show(video, false);
    show(stopBtn, false);
    show(startBtn, true);
  }

  function startCamera() {
    sayError("");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof window.jsQR !== "function") {
      scanSay(T.noCameraText);
      return;
    }
    scanSay(T.cameraStartingText);
    navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } }
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.setAttribute("playsinline", "");
      show(video, true);
      show(startBtn, false);
      show(stopBtn, true);
      return video.play();
    }).then(function () {
      scanning = true;
      scanSay(T.scanningText);
      setTimeout(scanFrame, 100);
    }).catch(function () {
      stopCamera();
      scanSay(T.cameraDeniedText);
    });
  }

  // One frame: scaled down (a QR code on a phone fills enough of the picture), decoded by jsQR.
  function scanFrame() {
    if (!scanning) { return; }
    if (video.readyState >= 2 && video.videoWidth) {
      var scale = Math.min(1, 960 / Math.max(video.videoWidth, video.videoHeight));
      var w = Math.round(video.videoWidth * scale);
      var h = Math.round(video.videoHeight * scale);
      canvas.width = w;
      canvas.height = h;
      var ctx = canvas.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(video, 0, 0, w, h);
      var found = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "attemptBoth" });
      if (found && found.data) {
        var text = found.data.trim();
        if (/^AX1\./i.test(text)) {
          stopCamera();
          scanSay(T.readText);
          lookUp(text);
          return;
        }
        if (text !== lastMiss) { lastMiss = text; scanSay(T.notMemberCodeText); }
      }
    }
    setTimeout(scanFrame, 120);  // about 8 tries a second: enough, and kind to a phone's battery
  }

  startBtn.addEventListener("click", startCamera);
  stopBtn.addEventListener("click", function () { stopCamera(); scanSay(""); });

  var codeForm = $("code-form");
  codeForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var typed = codeForm.querySelector("input[name=code]").value.trim();
    if (!typed) { sayError(T.typeCodeText); return; }
    stopCamera();
    lookUp(typed);
  });

  function lookUp(code) {
    sayError("");
    var button = codeForm.querySelector("button");
    button.disabled = true;
    post(T.lookupUrl, { code: code }).then(function (res) {
      button.disabled = false;
      if (!res.ok) {
        sayError(errorText(res.body));
        scanSay("");
        return;
      }
      state.code = code;
      state.member = res.body.member;
      state.limits = res.body.limits || {};
      state.key = null;
      showMember();
    }).catch(function () {
      button.disabled = false;
      sayError(T.networkText);
    });
  }

  function showMember() {
    var m = state.member;
    $("member-name").textContent = m.name;
    $("member-mobile").textContent = m.mobile;
    $("member-points").textContent = String(m.available);
    show($("step-member"), false);
    show($("member-found"), true);
    show($("step-cart"), true);
    show($("step-confirm"), false);
    codeForm.reset();  // a cart built before a fresh code was needed stays as it was
    renderItems();
    renderCart();
    $("item-search").focus();
  }

  $("member-change").addEventListener("click", function () {
    state = { code: null, member: null, limits: {}, cart: {}, order: [], key: null, sending: false };
    sayError("");
    scanSay("");
    show($("member-found"), false);
    show($("step-cart"), false);
    show($("step-confirm"), false);
    show($("step-member"), true);
  });

  // --- step 2: the cart -------------------------------------------------------------------------
  var items = {};
  var itemList = $("item-list");
  Array.prototype.forEach.call(itemList.querySelectorAll("li[data-item-id]"), function (li) {
    var d = li.dataset;
    items[d.itemId] = {
      id: d.itemId,
      name: d.name,
      search: (d.name + " " + (d.category || "")).toLowerCase(),
      points: parseInt(d.points, 10),
      stock: d.stock === "" ? null : parseInt(d.stock, 10),
      li: li
    };
    li.querySelector("button.add").addEventListener("click", function () { add(d.itemId, 1); });
  });

  function maxFor(id) {
    var it = items[id];
    var max = it.stock === null ? 99 : it.stock;
    var lim = state.limits[id];
    if (lim && typeof lim.left === "number") { max = Math.min(max, lim.left); }
    return max;
  }

  function add(id, n) {
    sayError("");
    var it = items[id];
    var now = state.cart[id] || 0;
    var want = now + n;
    if (want > now && want > maxFor(id)) {
      var lim = state.limits[id];
      if (it.stock !== null && want > it.stock) {
        sayError(fill(T.outOfStockText, { name: it.name, n: it.stock }));
      } else if (lim) {
        sayError(lim.text);
      }
      return;
    }
    if (want <= 0) {
      delete state.cart[id];
      state.order = state.order.filter(function (x) { return x !== id; });
    } else {
      if (!state.cart[id]) { state.order.push(id); }
      state.cart[id] = want;
    }
    state.key = null;  // another cart: another key
    renderCart();
  }

  var search = $("item-search");
  function renderItems() {
    var q = search.value.trim().toLowerCase();
    var shown = 0;
    Object.keys(items).forEach(function (id) {
      var it = items[id];
      var hit = !q || it.search.indexOf(q) >= 0;
      it.li.hidden = !hit;
      if (hit) { shown += 1; }
      var note = it.li.querySelector(".item-limit");
      var lim = state.limits[id];
      if (note) { note.textContent = lim ? lim.short : ""; }
    });
    show($("item-none"), shown === 0);
  }
  search.addEventListener("input", renderItems);
  search.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") { return; }
    e.preventDefault();  // Enter adds the only match: quick at a desk
    var visible = Object.keys(items).filter(function (id) { return !items[id].li.hidden; });
    if (visible.length === 1) { add(visible[0], 1); search.select(); }
  });

  function total() {
    return state.order.reduce(function (sum, id) { return sum + items[id].points * state.cart[id]; }, 0);
  }

  function cartRow(id, withButtons) {
    var it = items[id];
    var qty = state.cart[id];
    var li = document.createElement("li");
    li.className = "cart-line";
    var what = document.createElement("span");
    what.className = "cart-what";
    what.textContent = it.name + " ×" + qty;
    var pts = document.createElement("span");
    pts.className = "cart-points";
    pts.textContent = String(it.points * qty);
    li.appendChild(what);
    if (withButtons) {
      var less = document.createElement("button");
      less.type = "button";
      less.className = "secondary qty";
      less.textContent = "−";
      less.setAttribute("aria-label", fill(T.lessText, { name: it.name }));
      less.addEventListener("click", function () { add(id, -1); });
      var more = document.createElement("button");
      more.type = "button";
      more.className = "secondary qty";
      more.textContent = "+";
      more.setAttribute("aria-label", fill(T.moreText, { name: it.name }));
      more.addEventListener("click", function () { add(id, 1); });
      li.appendChild(less);
      li.appendChild(more);
    }
    li.appendChild(pts);
    return li;
  }

  function renderCart() {
    var list = $("cart-lines");
    list.replaceChildren();
    state.order.forEach(function (id) { list.appendChild(cartRow(id, true)); });
    show($("cart-empty"), state.order.length === 0);
    var t = total();
    var after = (state.member ? state.member.available : 0) - t;
    $("cart-total").textContent = String(t);
    $("cart-after").textContent = String(after);
    var short = $("cart-short");
    if (after < 0) {
      short.textContent = fill(T.shortText, { n: -after });
      show(short, true);
    } else {
      show(short, false);
    }
    $("cart-review").disabled = state.order.length === 0 || after < 0;
  }

  $("cart-review").addEventListener("click", function () {
    sayError("");
    var list = $("confirm-lines");
    list.replaceChildren();
    state.order.forEach(function (id) { list.appendChild(cartRow(id, false)); });
    var t = total();
    $("confirm-member").textContent = state.member.name + " · " + state.member.mobile;
    $("confirm-total").textContent = String(t);
    $("confirm-after").textContent = String(state.member.available - t);
    if (!state.key) { state.key = newKey(); }
    show($("step-cart"), false);
    show($("step-confirm"), true);
    $("confirm-redeem").disabled = false;
    $("confirm-redeem").focus();
  });

  $("confirm-back").addEventListener("click", function () {
    show($("step-confirm"), false);
    show($("step-cart"), true);
  });

  // --- step 3: confirm, once ------------------------------------------------------------------
  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "cart-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var confirmBtn = $("confirm-redeem");
  confirmBtn.addEventListener("click", function () {
    if (state.sending) { return; }  // a second tap while the first is on its way does nothing
    state.sending = true;
    confirmBtn.disabled = true;
    sayError("");
    $("confirm-status").textContent = T.sendingText;
    var lines = state.order.map(function (id) { return { item_id: parseInt(id, 10), qty: state.cart[id] }; });
    post(T.redeemUrl, { code: state.code, key: state.key, lines: lines }).then(function (res) {
      state.sending = false;
      $("confirm-status").textContent = "";
      if (res.ok && res.body.receipt_url) {
        window.location.assign(res.body.receipt_url);
        return;
      }
      var code = ((res.body || {}).error || {}).code;
      sayError(errorText(res.body));
      if (code === "token_expired" || code === "token_used" || code === "member_unknown" || code === "token_invalid") {
        // The member shows a fresh code; the cart stays as it is.
        state.code = null;
        state.key = null;
        show($("step-confirm"), false);
        show($("step-member"), true);
        show($("member-found"), false);
        show($("step-cart"), false);
        scanSay(T.rescanText);
      } else if (code === "signed_out") {
        confirmBtn.disabled = true;
      } else {
        state.key = null;  // nothing was written: the corrected cart gets a new key
        show($("step-confirm"), false);
        show($("step-cart"), true);
      }
    }).catch(function () {
      // Nothing known: the same key may be sent again and will not redeem twice.
      state.sending = false;
      confirmBtn.disabled = false;
      $("confirm-status").textContent = "";
      sayError(T.networkText);
    });
  });

}());
