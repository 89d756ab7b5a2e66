// Suggestions for the pick-a-member fields (the awards form): type part of a name or the last 4 digits
// of the mobile, see each match as "name · masked mobile · grid", pick one, and its id goes into the
// hidden field. Without this script the form still works: the server resolves the typed text on submit
// (one match: that member; several: the form lists them to choose from).
(function () {
  "use strict";

  function setup(box) {
    var text = box.querySelector("input[type=text]");
    var list = box.querySelector(".pick-list");
    var src = box.getAttribute("data-src");
    var hidden = box.querySelector("input[data-member-id]");
    var timer = null, seq = 0, active = -1, items = [];

    function idInput() {
      if (!hidden) {
        var matches = box.querySelector(".pick-matches");
        var name = matches ? matches.querySelector("input[type=radio]").name : "member_id";
        if (matches) matches.parentNode.removeChild(matches);
        hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = name;
        hidden.setAttribute("data-member-id", "");
        box.insertBefore(hidden, list);
      }
      return hidden;
    }

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      text.setAttribute("aria-expanded", "false");
      text.removeAttribute("aria-activedescendant");
      active = -1;
      items = [];
    }

    function choose(item) {
      text.value = item.label;
      idInput().value = String(item.id);
      close();
      text.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function highlight(i) {
      var options = list.querySelectorAll("[role=option]");
      options.forEach(function (o, n) { o.setAttribute("aria-selected", n === i ? "true" : "false"); });
      active = i;
      if (options[i]) {
        text.setAttribute("aria-activedescendant", options[i].id);
        options[i].scrollIntoView({ block: "nearest" });
      }
    }

    function show(found) {
      list.innerHTML = "";
      items = found;
      if (!found.length) {
        var none = document.createElement("li");
        none.className = "pick-none";
        none.textContent = box.getAttribute("data-empty-text");
        list.appendChild(none);
      }
      found.forEach(function (item, n) {
        var li = document.createElement("li");
        li.id = text.id + "-option-" + n;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.tabIndex = -1;
        var name = document.createElement("span");
        name.textContent = item.name;
        var more = document.createElement("small");
        more.className = "muted";
        more.textContent = item.mobile + " · " + item.place;
        li.appendChild(name);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(more);
        // mousedown, not click: the text field must not lose the pick to its blur first.
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(item); });
        list.appendChild(li);
      });
      list.hidden = false;
      text.setAttribute("aria-expanded", "true");
    }

    function search() {
      var q = text.value.trim();
      if (!q) { close(); return; }
      var mine = ++seq;
      var url = src + (src.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(q);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (body) { if (mine === seq) show(body.items || []); })
        .catch(function () { /* offline: the server resolves the typed text on submit */ });
    }

    text.addEventListener("input", function () {
      if (hidden) hidden.value = "";  // typed text no longer names the picked member
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    text.addEventListener("keydown", function (e) {
      if (list.hidden || !items.length) return;
      if (e.key === "ArrowDown") { e.preventDefault(); highlight(Math.min(active + 1, items.length - 1)); }
      else if (e.key === "ArrowUp") { e.preventDefault(); highlight(Math.max(active - 1, 0)); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); choose(items[active]); }
      else if (e.key === "Escape") { close(); }
    });
    text.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  document.querySelectorAll("[data-member-pick]").forEach(setup);
})();
