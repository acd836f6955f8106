// Draws every figure with vega-embed, adds PNG/SVG export (Vega's own view.toImageURL, in the browser) and
// sortable tables. State for tests and benchmarks: window.slotuneReport and <html data-figures-drawn>.
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("slotune-figures").textContent);
  var views = new Map();
  var state = { figures: Object.keys(specs).length, drawn: 0, failed: 0, readyMs: null };
  window.slotuneReport = state;
  // ast: Vega's expression interpreter instead of new Function(), so the page needs no 'unsafe-eval'.
  var options = { renderer: "svg", actions: false, ast: true, mode: "vega-lite" };

  function draw(figure) {
    var id = figure.dataset.figure;
    var plot = figure.querySelector(".plot");
    return vegaEmbed(plot, specs[id], options).then(function (result) {
      views.set(id, result.view);
      state.drawn += 1;
      figure.classList.add("drawn");
    }).catch(function (error) {
      state.failed += 1;
      figure.classList.add("failed");
      plot.textContent = "This figure could not be drawn: " + error;
      console.error("figure " + id + " could not be drawn: " + error);
    });
  }

  Promise.all(Array.prototype.map.call(document.querySelectorAll("figure[data-figure]"), draw)).then(function () {
    state.readyMs = performance.now();
    document.documentElement.dataset.figuresDrawn = String(state.drawn);
  });

  function download(url, name) {
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-export]");
    if (!button) return;
    var figure = button.closest("figure[data-figure]");
    var view = views.get(figure.dataset.figure);
    if (!view) return;
    var type = button.dataset.export;
    view.toImageURL(type, type === "png" ? 2 : 1).then(function (url) {
      download(url, figure.dataset.filename + "." + type);
    }).catch(function (error) {
      console.error("export failed: " + error);
    });
  });

  function sortKey(cell) {
    var raw = cell.dataset.sort;
    if (raw === undefined) return { missing: cell.textContent.trim() === "-", text: cell.textContent };
    var number = Number(raw);
    return isNaN(number) ? { text: raw } : { number: number };
  }

  function compare(a, b) {
    if (a.missing || b.missing) return (a.missing ? 1 : 0) - (b.missing ? 1 : 0);
    if (a.number !== undefined && b.number !== undefined) return a.number - b.number;
    return String(a.text).localeCompare(String(b.text), undefined, { numeric: true });
  }

  function sortBy(header) {
    var table = header.closest("table");
    var index = Array.prototype.indexOf.call(header.parentNode.children, header);
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(header.parentNode.children, function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var a = sortKey(r1.cells[index]);
      var b = sortKey(r2.cells[index]);
      var order = compare(a, b);
      if (a.missing || b.missing) return order;  // cells without a value stay last either way
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.querySelectorAll("table.sortable th").forEach(function (header) {
    header.addEventListener("click", function () { sortBy(header); });
    header.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(header); }
    });
  });
})();
