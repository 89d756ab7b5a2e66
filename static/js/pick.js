// Suggestions for the pick fields: type part of a name, see the matches, pick one, and its id goes into
// the hidden field. Two kinds share this script (base.html loads it on every page):
//   [data-unit-pick]   places (macro unit_pick, fund/_pick.html): each match's path
//                      ("凤凰街道 › 塘家社区 › 第1网格") and its kind; the hidden field is the text field's
//                      name without "-text".
//   [data-member-pick] members (the awards form): "name · masked mobile · grid"; the hidden field is the
//                      server's radio list's name, or member_id.
// Without this script the forms still work: the server resolves the typed text on submit (one match:
// that one; several: the form lists them to choose from).
(function () {
  "use strict";

  var KINDS = {
    unit: {
      idAttr: "data-unit-id",
      hiddenName: function (text) { return text.name.replace(/-text$/, ""); },
      label: function (item) { return item.path; },
      line: function (item) { return [item.path, item.kind]; }
    },
    member: {
      idAttr: "data-member-id",
      hiddenName: function (text, box) {
        var radio = box.querySelector(".pick-matches input[type=radio]");
        return radio ? radio.name : "member_id";
      },
      label: function (item) { return item.label; },
      line: function (item) { return [item.name, item.mobile + " · " + item.place]; }
    }
  };

  function setup(box, kind) {
    var text = box.querySelector("input[type=text]");
    var list = box.querySelector(".pick-list");
    var src = box.getAttribute("data-src");
    var hidden = box.querySelector("input[" + kind.idAttr + "]");
    var name = kind.hiddenName(text, box);
    var timer = null, seq = 0, active = -1, items = [];

    function idInput() {
      if (!hidden) {
        // The server listed several matches as radio buttons; a pick from the suggestions replaces them.
        var matches = box.querySelector(".pick-matches");
        if (matches) matches.parentNode.removeChild(matches);
        hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = name;
        hidden.setAttribute(kind.idAttr, "");
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
      text.value = kind.label(item);
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
        var parts = kind.line(item);
        var main = document.createElement("span");
        main.textContent = parts[0];
        var more = document.createElement("small");
        more.className = "muted";
        more.textContent = parts[1];
        li.appendChild(main);
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
      if (hidden) hidden.value = "";  // typed text no longer names the pick
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

  document.querySelectorAll("[data-unit-pick]").forEach(function (box) { setup(box, KINDS.unit); });
  document.querySelectorAll("[data-member-pick]").forEach(function (box) { setup(box, KINDS.member); });
})();
