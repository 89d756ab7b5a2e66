// Suggestions for the pick-a-place fields (macro unit_pick): type part of a name, see each match's
// path ("凤凰街道 › 塘家社区 › 第1网格"), pick one, and its id goes into the hidden field. Without this
// script the form still works: the server resolves the typed name when the form is sent.
(function () {
  "use strict";

  function setup(box) {
    var text = box.querySelector("input[type=text]");
    var list = box.querySelector(".pick-list");
    var src = box.getAttribute("data-src");
    var hidden = box.querySelector("input[data-unit-id]");
    var name = text.name.replace(/-text$/, "");
    var timer = null, seq = 0, active = -1, items = [];

    function idInput() {
      if (!hidden) {
        // The server listed several matches as radio buttons; a pick from the suggestions replaces them.
        var matches = box.querySelector(".pick-matches");
        if (matches) matches.parentNode.removeChild(matches);
        hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = name;
        hidden.setAttribute("data-unit-id", "");
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
      text.value = item.path;
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
        var path = document.createElement("span");
        path.textContent = item.path;
        var kind = document.createElement("small");
        kind.className = "muted";
        kind.textContent = item.kind;
        li.appendChild(path);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(kind);
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
        .catch(function () { /* offline: the server resolves the typed name on submit */ });
    }

    text.addEventListener("input", function () {
      if (hidden) hidden.value = "";  // typed text no longer names the picked unit
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

  document.querySelectorAll("[data-unit-pick]").forEach(setup);
})();
