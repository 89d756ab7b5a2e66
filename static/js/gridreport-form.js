// The report form on a phone: previews of the chosen photos (at most 3; the camera opens on phones,
// <input type=file accept=image/* capture>), and the phone's location in the hidden lat/lng fields —
// asked at once where the browser allows it, or with the "Add my location" button. Without this script
// the form still works (no location, the server checks the photos). No inline scripts: CSP 'self'.
(function () {
  "use strict";
  var form = document.getElementById("gr-form");
  if (!form) { return; }
  var input = document.getElementById("photos");
  var previews = document.getElementById("gr-previews");
  var locate = document.getElementById("gr-locate");
  var status = document.getElementById("gr-location-status");
  var lat = form.querySelector("input[name=lat]");
  var lng = form.querySelector("input[name=lng]");

  function say(text) { if (status) { status.textContent = text; } }

  if (input && previews) {
    input.addEventListener("change", function () {
      previews.innerHTML = "";
      var files = Array.prototype.slice.call(input.files || []);
      if (files.length > 3) {
        var warn = document.createElement("li");
        warn.className = "error";
        warn.setAttribute("role", "alert");
        warn.textContent = form.dataset.tooManyText;
        previews.appendChild(warn);
      }
      files.slice(0, 3).forEach(function (f) {
        if (!window.FileReader || !f.type || f.type.indexOf("image/") !== 0) { return; }
        var li = document.createElement("li");
        var img = document.createElement("img");
        img.alt = f.name;
        li.appendChild(img);
        previews.appendChild(li);
        // A data: URL, not a blob: one: the page's CSP allows images from 'self' and data: only.
        var reader = new FileReader();
        reader.onload = function () { img.src = String(reader.result); };
        reader.readAsDataURL(f);
      });
    });
  }

  // A phone camera's photos can be 5–10 MB each and a request may carry at most 20 MB: big photos are
  // shrunk here first (the server shrinks them to 1600 px anyway). Any failure sends them as they are.
  var BIG = 3 * 1024 * 1024, SIDE = 2000;
  function shrink(file) {
    return new Promise(function (resolve) {
      if (file.size <= BIG || !window.createImageBitmap || !file.type || file.type.indexOf("image/") !== 0) {
        resolve(file); return;
      }
      window.createImageBitmap(file).then(function (bmp) {
        var scale = Math.min(1, SIDE / Math.max(bmp.width, bmp.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bmp.width * scale);
        canvas.height = Math.round(bmp.height * scale);
        canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) {
          resolve(blob ? new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.85);
      }, function () { resolve(file); });
    });
  }
  var shrunk = false;
  form.addEventListener("submit", function (e) {
    if (shrunk || !input || !input.files || !input.files.length || typeof DataTransfer === "undefined") { return; }
    var files = Array.prototype.slice.call(input.files);
    if (!files.some(function (f) { return f.size > BIG; })) { return; }
    e.preventDefault();
    Promise.all(files.map(shrink)).then(function (out) {
      try {
        var dt = new DataTransfer();
        out.forEach(function (f) { dt.items.add(f); });
        input.files = dt.files;
      } catch (err) { /* send the originals */ }
      shrunk = true;
      form.submit();
    });
  });

  function findMe() {
    if (!navigator.geolocation) { say(form.dataset.deniedText); return; }
    say(form.dataset.locatingText);
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = String(pos.coords.latitude);
      lng.value = String(pos.coords.longitude);
      say(form.dataset.locatedText);
      if (locate) { locate.hidden = true; }
    }, function () {
      say(form.dataset.deniedText);
      if (locate) { locate.hidden = false; }
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 120000 });
  }

  if (locate) {
    locate.hidden = false;
    locate.addEventListener("click", findMe);
  }
  if (!lat.value && navigator.permissions && navigator.permissions.query) {
    // Ask at once only when the phone already allows it; otherwise the button asks.
    navigator.permissions.query({ name: "geolocation" }).then(function (p) {
      if (p.state === "granted") { findMe(); }
    }, function () {});
  }
})();
