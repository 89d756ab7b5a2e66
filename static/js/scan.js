// The scan page: one step for the volunteer. Once loaded it sends the form by itself; when the activity
// checks the location it asks the phone first and fills the hidden lat/lng fields. A refusal is said
// in plain words and the button stays to try again. (No inline scripts: CSP script-src 'self'.)
(function () {
  "use strict";
  var form = document.getElementById("scan-form");
  if (!form) { return; }
  var status = document.getElementById("scan-status");
  var button = form.querySelector("button[type=submit]");
  var located = false;

  function say(text) { if (status) { status.textContent = text; } }

  function send() {
    say(form.dataset.sendingText);
    if (button) { button.disabled = true; }
    form.submit();
  }

  function locateThenSend() {
    if (!navigator.geolocation) { say(form.dataset.deniedText); return; }
    say(form.dataset.locatingText);
    navigator.geolocation.getCurrentPosition(function (pos) {
      form.querySelector("input[name=lat]").value = String(pos.coords.latitude);
      form.querySelector("input[name=lng]").value = String(pos.coords.longitude);
      located = true;
      send();
    }, function () {
      say(form.dataset.deniedText);
      if (button) { button.disabled = false; }
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  form.addEventListener("submit", function (e) {
    if (form.dataset.needsLocation && !located) {
      e.preventDefault();
      locateThenSend();
    }
  });

  if (form.dataset.needsLocation) { locateThenSend(); } else { send(); }
}());
