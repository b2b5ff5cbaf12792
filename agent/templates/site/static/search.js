// Client-side search over the prebuilt index (search-index.js sets window.DISSECT_SEARCH).
// Every word of the query must appear in a report's title, verdict, fallacy or source; title hits rank first.
// Results are built with DOM methods and textContent only: titles from papers are never parsed as HTML.
(function () {
  "use strict";
  var index = window.DISSECT_SEARCH || [];
  var input = document.getElementById("q");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!input || !list || !status) { return; }

  function fold(s) {
    return String(s || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  var rows = index.map(function (r) {
    return { r: r, title: fold(r.t), rest: fold([r.v, r.f, r.s].join(" ")) };
  });

  function search(query) {
    var words = fold(query).split(/[^\p{L}\p{N}.]+/u).filter(Boolean);
    if (!words.length) { return null; }
    var hits = [];
    rows.forEach(function (row) {
      var score = 0;
      for (var i = 0; i < words.length; i++) {
        var inTitle = row.title.indexOf(words[i]) >= 0;
        if (!inTitle && row.rest.indexOf(words[i]) < 0) { return; }
        score += inTitle ? 2 : 1;
      }
      hits.push({ row: row, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score || (a.row.r.d < b.row.r.d ? 1 : -1); });
    return hits.map(function (h) { return h.row.r; });
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  function show(query) {
    var found = search(query);
    list.replaceChildren();
    if (found === null) { status.textContent = "Type to search."; return; }
    status.textContent = found.length + (found.length === 1 ? " report" : " reports") + " found";
    found.slice(0, 100).forEach(function (r) {
      if (!/^reports\/[a-z0-9-]+\.html$/.test(r.u)) { return; }
      var item = el("li", "result");
      var link = el("a", "", r.t);
      link.href = r.u;
      item.appendChild(link);
      item.appendChild(el("p", "byline", [r.d, r.s, r.f].filter(Boolean).join(" · ")));
      item.appendChild(el("p", "verdict", r.v));
      list.appendChild(item);
    });
  }

  var initial = new URLSearchParams(window.location.search).get("q") || "";
  input.value = initial;
  show(initial);
  input.addEventListener("input", function () { show(input.value); });
  input.form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    show(input.value);
  });
})();
