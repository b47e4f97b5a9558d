// Live updates of Winventory's pages: one EventSource on /events (the
// browser resumes it with Last-Event-ID after a drop). The page works the
// same without this script; it only saves a reload.
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var note = document.querySelector(".live-note");
  var anchor = document.getElementById("live");
  var only = anchor ? anchor.getAttribute("data-campaign") : null;
  var source = new EventSource("/events");

  function setFigures(root, f) {
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      var k = el.getAttribute("data-figure");
      if (f[k] === undefined || f[k] === null) { return; }
      var text = String(f[k]);
      if (el.textContent !== text) {
        el.textContent = text;
        el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash");
      }
    });
    var bar = root.querySelector("progress");
    if (bar && f.progress_percent !== null) { bar.value = f.progress_percent; }
  }

  source.addEventListener("open", function () { if (note) { note.hidden = false; } });
  source.addEventListener("figures", function (e) {
    var f = JSON.parse(e.data);
    if (only && f.campaign === only) {
      setFigures(document, f);
      var mix = document.getElementById("answer-mix");
      if (mix) {
        Object.keys(f.answered).forEach(function (k) {
          var cell = mix.querySelector('[data-answer="' + CSS.escape(k) + '"]');
          if (cell) { cell.textContent = String(f.answered[k]); }
          else {
            var tr = document.createElement("tr");
            var th = document.createElement("th"); th.scope = "row"; th.textContent = k;
            var td = document.createElement("td"); td.className = "num"; td.setAttribute("data-answer", k); td.textContent = String(f.answered[k]);
            tr.appendChild(th); tr.appendChild(td); mix.appendChild(tr);
          }
        });
      }
    }
    var row = document.querySelector('#campaigns tr[data-campaign="' + CSS.escape(f.campaign) + '"]');
    if (row) { setFigures(row, f); }
  });
  source.addEventListener("change", function (e) {
    var c = JSON.parse(e.data);
    if (only && c.campaign !== only) { return; }
    var sel = '[data-host="' + CSS.escape(c.host) + '"]';
    document.querySelectorAll(sel).forEach(function (row) {
      if (row.getAttribute("data-campaign") && row.getAttribute("data-campaign") !== c.campaign) { return; }
      var st = row.querySelector('[data-cell="state"]');
      if (st) { st.textContent = c.state; }
      var an = row.querySelector('[data-cell="answer"]');
      if (an) { an.textContent = c.answer || ""; }
      row.classList.remove("flash"); void row.offsetWidth; row.classList.add("flash");
    });
  });
  source.addEventListener("reload", function () { window.location.reload(); });
  source.addEventListener("signed-out", function () { source.close(); window.location.reload(); });
})();
