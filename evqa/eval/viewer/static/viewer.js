/* EVQA error viewer: draws window.EVQA_REPORT (data/report.js) and loads data/entries_NNN.js on demand.
 * Plain JavaScript, no network: every data file is a <script>, so the page works when opened from disk.
 * Text from the data is always set with textContent (a model's reply is never read as HTML). */
(function () {
  "use strict";
  var R = window.EVQA_REPORT;
  var PAGE_SIZE = 50;
  var RUNS = R ? R.runs : [];
  var state = { failure: "", run: "any", category: "", source: "", differ: false, search: "", page: 0 };
  var chunks = {};
  var waiting = {};

  function el(tag, attrs) {
    var node = document.createElement(tag);
    var key;
    for (key in attrs || {}) {
      if (!Object.prototype.hasOwnProperty.call(attrs, key) || attrs[key] === null || attrs[key] === undefined) continue;
      if (key === "text") node.textContent = String(attrs[key]);
      else if (key === "className") node.className = attrs[key];
      else if (key === "style") node.setAttribute("style", attrs[key]);
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), attrs[key]);
      else node.setAttribute(key, attrs[key]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function fmt(value, digits) {
    if (value === null || value === undefined) return "\u2013";
    if (typeof value !== "number") return String(value);
    return Number.isInteger(value) && digits === 0 ? String(value) : value.toFixed(digits);
  }

  function label(name) { return R.failure_labels[name] || String(name).replace(/_/g, " "); }

  function badge(failure) { return el("span", { className: "badge " + failure, "data-failure": failure, text: label(failure) }); }

  /* ---- data chunks ---- */
  window.evqaChunk = function (payload) {
    chunks[payload.chunk] = payload.entries;
    (waiting[payload.chunk] || []).forEach(function (done) { done(); });
    delete waiting[payload.chunk];
  };

  function loadChunk(k, done) {
    if (chunks[k]) { done(); return; }
    if (waiting[k]) { waiting[k].push(done); return; }
    waiting[k] = [done];
    var name = "data/entries_" + String(k).padStart(3, "0") + ".js";
    var script = el("script", { src: name });
    script.onerror = function () { showError("cannot load " + name + " (is the report folder complete?)"); };
    document.head.appendChild(script);
  }

  function showError(message) {
    var detail = document.getElementById("entry-detail");
    detail.hidden = false;
    detail.replaceChildren(el("p", { className: "warning", text: message }));
  }

  /* ---- summary ---- */
  function drawRuns() {
    var table = el("table", { id: "run-table" });
    table.appendChild(el("tr", null, el("th", { text: "run" }), el("th", { text: "prediction file" }),
      el("th", { text: "model" }), el("th", { text: "checkpoint" }), el("th", { text: "sampling" }),
      el("th", { text: "other" }), el("th", { text: "results JSON" })));
    RUNS.forEach(function (run, k) {
      var extra = Object.keys(run.header.extra || {}).map(function (key) { return key + ": " + run.header.extra[key]; });
      table.appendChild(el("tr", { "data-run": k },
        el("td", null, el("span", { className: "swatch run-" + (k % 4) }), run.name),
        el("td", { text: run.pred_file }),
        el("td", { text: run.header.model || "\u2013" }),
        el("td", { text: run.header.checkpoint || "\u2013" }),
        el("td", { text: run.header.sampling || "\u2013" }),
        el("td", { text: extra.join(", ") + (run.notes.length ? (extra.length ? "; " : "") + run.notes.join("; ") : "") }),
        el("td", null, run.results_file ? el("a", { href: run.results_file, text: run.results_file }) : "\u2013")));
    });
    document.getElementById("runs").replaceChildren(table);
  }

  function drawTables() {
    var box = document.getElementById("tables");
    box.replaceChildren();
    R.tables.forEach(function (table) {
      var counts = table.unit === "entries";
      var node = el("table", { className: counts ? "counts" : "metrics", "data-table": table.title });
      node.appendChild(el("caption", { text: table.title + (counts ? " (entries)" : " (" + table.unit + ")") }));
      var head = el("tr", null, el("th", { text: "run" }));
      table.columns.forEach(function (c) { head.appendChild(el("th", { className: "num", text: counts ? label(c) : c })); });
      node.appendChild(head);
      table.rows.forEach(function (row) {
        var tr = el("tr", { "data-run": row.run, "data-label": row.label }, el("td", { text: row.label }));
        table.columns.forEach(function (c) {
          var v = row.values[c];
          var digits = counts ? 0 : (table.digits && table.digits[c] !== undefined ? table.digits[c] : 2);
          var td = el("td", { className: "num", "data-metric": c, "data-value": v === null ? "" : String(v), text: fmt(v, digits) });
          if (counts && R.failure_types.indexOf(c) >= 0 && v) {
            td.className += " count-link";
            td.title = "show these entries";
            td.addEventListener("click", function () { setFilter({ failure: c, run: String(row.run) }); });
          }
          tr.appendChild(td);
        });
        node.appendChild(tr);
      });
      box.appendChild(node);
    });
  }

  function drawComparison() {
    var box = document.getElementById("ab");
    var c = R.comparison;
    if (!c) { box.replaceChildren(); return; }
    var a = RUNS[0].name, b = RUNS[1].name;
    var table = el("table", { id: "ab-table", className: "counts" },
      el("caption", { text: "A/B comparison: " + a + " vs " + b + " (entries)" }),
      el("tr", null, el("th", { text: "answer correct in both" }), el("th", { text: "only " + a }),
        el("th", { text: "only " + b }), el("th", { text: "neither" }), el("th", { text: "failure type differs" })),
      el("tr", null, el("td", { className: "num", "data-key": "both", text: c.both }),
        el("td", { className: "num", "data-key": "only_a", text: c.only_a }),
        el("td", { className: "num", "data-key": "only_b", text: c.only_b }),
        el("td", { className: "num", "data-key": "neither", text: c.neither }),
        el("td", { className: "num count-link", "data-key": "differ", text: c.differ,
          onclick: function () { setFilter({ differ: true }); } })));
    box.replaceChildren(table, el("p", { className: "muted", text: "The entry list shows the entries where the runs' failure types differ first." }));
  }

  /* ---- filters and list ---- */
  function distinct(key) {
    var seen = {};
    R.index.forEach(function (row) { if (row[key]) seen[row[key]] = (seen[row[key]] || 0) + 1; });
    return Object.keys(seen).sort();
  }

  function select(id, text, options, value, onchange) {
    var node = el("select", { id: id, onchange: onchange });
    options.forEach(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (o[0] === value) opt.selected = true;
      node.appendChild(opt);
    });
    return el("label", null, text, node);
  }

  function drawFilters() {
    var form = document.getElementById("filters");
    form.replaceChildren();
    form.appendChild(select("filter-failure", "failure type", [["", "any"]].concat(R.failure_types.map(function (f) { return [f, label(f)]; })),
      state.failure, function (e) { setFilter({ failure: e.target.value }); }));
    if (RUNS.length > 1) {
      form.appendChild(select("filter-run", "in run", [["any", "any run"]].concat(RUNS.map(function (r, k) { return [String(k), r.name]; })),
        state.run, function (e) { setFilter({ run: e.target.value }); }));
    }
    [["category", "category"], ["source", "source"]].forEach(function (pair) {
      var values = distinct(pair[0]);
      if (!values.length) return;
      form.appendChild(select("filter-" + pair[0], pair[1], [["", "any"]].concat(values.map(function (v) { return [v, v]; })),
        state[pair[0]], function (e) { var f = {}; f[pair[0]] = e.target.value; setFilter(f); }));
    });
    if (RUNS.length > 1) {
      var box = el("input", { type: "checkbox", id: "filter-differ", onchange: function (e) { setFilter({ differ: e.target.checked }); } });
      box.checked = state.differ;
      form.appendChild(el("label", null, box, "only where " + RUNS[0].name + " and " + RUNS[1].name + " differ"));
    }
    var search = el("input", { type: "search", id: "filter-search", placeholder: "id or question", value: state.search,
      oninput: function (e) { state.search = e.target.value; state.page = 0; drawList(); } });
    form.appendChild(el("label", null, "search", search));
  }

  function setFilter(changes) {
    Object.keys(changes).forEach(function (k) { state[k] = changes[k]; });
    state.page = 0;
    drawFilters();
    drawList();
    if (location.hash) location.hash = "";
    document.getElementById("browser").scrollIntoView();
  }

  function matches(row) {
    if (state.failure) {
      var runs = state.run === "any" ? row.runs : [row.runs[Number(state.run)]];
      if (!runs.some(function (r) { return r.failure === state.failure; })) return false;
    }
    if (state.category && row.category !== state.category) return false;
    if (state.source && row.source !== state.source) return false;
    if (state.differ && !row.differs) return false;
    if (state.search) {
      var q = state.search.toLowerCase();
      if (row.id.toLowerCase().indexOf(q) < 0 && (row.question || "").toLowerCase().indexOf(q) < 0) return false;
    }
    return true;
  }

  function visibleRows() {
    var rows = R.index.filter(matches);
    if (RUNS.length > 1) {  // A/B: the entries where the runs differ first, each group in benchmark order
      rows.sort(function (a, b) { return (b.differs - a.differs) || (a.i - b.i); });
    }
    return rows;
  }

  function drawList() {
    var rows = visibleRows();
    var pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    var shown = rows.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE);
    var head = el("tr", null, el("th", { text: "#" }), el("th", { text: "entry" }), el("th", { text: "category / source" }),
      el("th", { text: "question" }), el("th", { text: "GT answer" }));
    RUNS.forEach(function (run, k) { head.appendChild(el("th", null, el("span", { className: "swatch run-" + (k % 4) }), run.name)); });
    var table = document.getElementById("entry-list");
    table.tHead.replaceChildren(head);
    var body = table.tBodies[0];
    body.replaceChildren();
    shown.forEach(function (row) {
      var tr = el("tr", { className: "entry-row", "data-entry-id": row.id, "data-index": row.i,
        onclick: function () { location.hash = "entry=" + encodeURIComponent(row.id); } },
        el("td", { className: "num", text: row.i + 1 }),
        el("td", null, el("a", { href: "#entry=" + encodeURIComponent(row.id), text: row.id })),
        el("td", { text: [row.category, row.source].filter(Boolean).join(" / ") || "\u2013" }),
        el("td", { className: "question", text: row.question }),
        el("td", { text: row.gt }));
      row.runs.forEach(function (r, k) {
        tr.appendChild(el("td", { "data-run": k }, el("div", { text: r.answer || "\u2013" }), badge(r.failure),
          k === 0 && row.differs ? el("div", { className: "differs", text: "runs differ" }) : null));
      });
      body.appendChild(tr);
    });
    document.getElementById("list-count").textContent = rows.length + " of " + R.index.length + " entries" +
      (rows.length > PAGE_SIZE ? " (" + PAGE_SIZE + " per page)" : "");
    var pager = document.getElementById("pager");
    pager.replaceChildren();
    if (pages > 1) {
      pager.appendChild(el("button", { type: "button", id: "page-prev", onclick: function () { state.page = Math.max(0, state.page - 1); drawList(); } }, "\u2190 previous"));
      pager.appendChild(el("span", { id: "page-info", text: "page " + (state.page + 1) + " of " + pages }));
      pager.appendChild(el("button", { type: "button", id: "page-next", onclick: function () { state.page = Math.min(pages - 1, state.page + 1); drawList(); } }, "next \u2192"));
    }
  }

  /* ---- one entry ---- */
  function track(bars, kind, extra) {  // bars: positions in % computed by the report writer
    var node = el("div", { className: "track" });
    bars.forEach(function (bar) {
      node.appendChild(el("div", { className: "seg " + kind, "data-start": bar.start, "data-end": bar.end,
        "data-left": bar.left, "data-width": bar.width, style: "left: " + bar.left + "%; width: " + bar.width + "%",
        title: fmt(bar.start, 2) + "\u2013" + fmt(bar.end, 2) + " s" }));
    });
    (extra || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function drawTimeline(entry) {
    var t = entry.timeline;
    var box = el("div", { className: "timeline", "data-length": t.length });
    box.appendChild(el("div", { className: "row", "data-row": "gt" }, el("span", { className: "row-label", text: "GT" }),
      track(t.gt, "gt"), el("span", { className: "scores" })));
    entry.runs.forEach(function (r, k) {
      var scores = r.iou === null && r.iop === null ? "" : "IoU " + fmt(r.iou, 2) + " \u00b7 IoP " + fmt(r.iop, 2);
      box.appendChild(el("div", { className: "row", "data-row": "run", "data-run": k },
        el("span", { className: "row-label", text: RUNS[k].name }), track(t.runs[k], "pred run-" + (k % 4)),
        el("span", { className: "scores", "data-run": k, text: scores })));
    });
    var ticks = [];
    t.frames.forEach(function (left, i) {
      if (left !== null) ticks.push(el("div", { className: "tick", style: "left: " + left + "%", title: "frame " + entry.frames[i].index }));
    });
    box.appendChild(el("div", { className: "row", "data-row": "frames" }, el("span", { className: "row-label", text: "frames shown" }),
      track([], "", ticks), el("span", { className: "scores" })));
    box.appendChild(el("div", { className: "axis" }, el("span", { text: "0 s" }),
      el("span", { text: fmt(t.length, 2) + " s" + (t.known ? "" : " (duration unknown: scaled to the last end)") })));
    return box;
  }

  function image(src, className, width, height) {
    var img = el("img", { className: className, alt: "", width: width, height: height, decoding: "async" });
    img.loading = "lazy";  // before src, so the browser defers it
    img.src = src;
    return img;
  }

  function drawFrames(entry, k) {
    var strip = el("div", { className: "frames", "data-run": k });
    var w = entry.width || 160, h = entry.height || 120;
    var zoom = w < 160 ? 160 / w : 1;  // small synthetic frames are shown enlarged, pixels kept sharp
    entry.frames.forEach(function (f) {
      var stack = el("div", { className: "stack" + (f.image ? "" : " no-picture"),
        style: "width: " + Math.round(w * zoom) + "px; height: " + Math.round(h * zoom) + "px" });
      var small = zoom > 1 ? " small" : "";
      if (f.image) stack.appendChild(image(f.image, "frame-image" + small, w, h));
      if (f.gt_overlay) stack.appendChild(image(f.gt_overlay, "overlay gt" + small, w, h));
      var pred = f.pred_overlays[k];
      if (pred) stack.appendChild(image(pred, "overlay pred run-" + k + small, w, h));
      var caption = f.label !== null ? f.label : "t = " + fmt(f.time, 2) + " s (frame " + f.index + ")";
      var areas = [];
      if (f.gt_area !== null) areas.push("GT " + fmt(100 * f.gt_area, 1) + "%");
      if (f.pred_areas[k] !== null && f.pred_areas[k] !== undefined) areas.push(RUNS[k].name + " " + fmt(100 * f.pred_areas[k], 1) + "%");
      strip.appendChild(el("figure", { className: "frame", "data-frame": f.index, style: "width: " + Math.round(w * zoom) + "px" }, stack,
        el("figcaption", { text: caption + (areas.length ? " \u00b7 mask " + areas.join(", ") : "") })));
    });
    return strip;
  }

  function drawEntry(entry, position, list) {
    var detail = document.getElementById("entry-detail");
    var at = list.indexOf(position);
    var prev = at > 0 ? R.index[list[at - 1]].id : null;
    var next = at >= 0 && at < list.length - 1 ? R.index[list[at + 1]].id : null;
    var nav = el("div", { className: "nav" },
      el("a", { href: "#", id: "back", text: "\u2190 back to the list" }),
      prev !== null ? el("a", { href: "#entry=" + encodeURIComponent(prev), id: "prev-entry", text: "previous" }) : null,
      next !== null ? el("a", { href: "#entry=" + encodeURIComponent(next), id: "next-entry", text: "next" }) : null,
      el("span", { className: "muted", text: at >= 0 ? (at + 1) + " of " + list.length + " in the list" : "" }));
    var options = el("ol", { className: "options", type: "A" });
    entry.options.forEach(function (o, i) {
      var li = el("li", { className: i === entry.gt_index ? "gt" : "", "data-option": i }, o);
      if (i === entry.gt_index) li.appendChild(el("span", { className: "pick badge correct", text: "GT" }));
      entry.runs.forEach(function (r, k) {
        if (r.letter && "ABCDEF".indexOf(r.letter) === i) {
          li.appendChild(el("span", { className: "pick badge run-" + (k % 4), "data-run": k, text: RUNS[k].name }));
        }
      });
      options.appendChild(li);
    });
    var scoreKeys = [["iou", "IoU"], ["iop", "IoP"], ["j", "J"], ["f", "F"]].filter(function (pair) {
      return entry.runs.some(function (r) { return r[pair[0]] !== null; });  // only the scores this entry has
    });
    var extraKeys = [];  // the scorer's other per-entry numbers (BLEU, score, MOS, ...), in first-seen order
    entry.runs.forEach(function (r) { Object.keys(r.scores || {}).forEach(function (key) { if (extraKeys.indexOf(key) < 0) extraKeys.push(key); }); });
    var head = el("tr", null, el("th", { text: "run" }), el("th", { text: "answer" }), el("th", { text: "failure type" }), el("th", { text: "why" }));
    scoreKeys.forEach(function (pair) { head.appendChild(el("th", { className: "num", text: pair[1] })); });
    extraKeys.forEach(function (key) { head.appendChild(el("th", { className: "num", text: key })); });
    var runs = el("table", { id: "entry-runs" }, head);
    var judged = entry.runs.some(function (r) { return r.judge; });
    if (judged) head.appendChild(el("th", { text: "judge" }));
    entry.runs.forEach(function (r, k) {
      var tr = el("tr", { "data-run": k }, el("td", null, el("span", { className: "swatch run-" + (k % 4) }), RUNS[k].name),
        el("td", { text: r.answer || "\u2013" }), el("td", null, badge(r.failure)), el("td", { text: r.detail || "" }));
      scoreKeys.forEach(function (pair) { tr.appendChild(el("td", { className: "num", "data-metric": pair[0], text: fmt(r[pair[0]], 3) })); });
      extraKeys.forEach(function (key) {
        var v = (r.scores || {})[key];
        tr.appendChild(el("td", { className: "num", "data-metric": key, "data-value": v === undefined || v === null ? "" : String(v), text: fmt(v, 3) }));
      });
      if (judged) tr.appendChild(el("td", { className: "judge", text: r.judge ? (r.judge.verdict || "\u2013") + ", score " + fmt(r.judge.score, 1) : "\u2013" }));
      runs.appendChild(tr);
    });
    var children = [nav,
      el("h2", { text: entry.entry_id }),
      el("p", { className: "muted", text: [entry.category, entry.source, entry.video].filter(Boolean).join(" \u00b7 ") }),
      el("p", { className: "question", text: entry.question }),
      options,
      el("p", null, "GT answer: ", el("strong", { text: entry.gt_answer })),
      runs];
    var t = entry.timeline;
    if (t.gt.length || t.runs.some(function (bars) { return bars.length; }) || entry.gt_segments.length) {
      children.push(el("h3", { text: "Temporal evidence" }), drawTimeline(entry));
    }
    if (entry.frames.length) {
      var masks = entry.frames.some(function (f) { return f.gt_overlay || f.pred_overlays.some(Boolean); });
      children.push(el("h3", { text: entry.frames[0].time === null ? "Images" : "Frames" }));
      if (masks) {
        var legend = el("p", { className: "muted" }, el("span", { className: "swatch gt" }), "GT mask outline \u00a0 predicted mask fill: ");
        RUNS.forEach(function (r, k) { legend.appendChild(el("span", null, el("span", { className: "swatch run-" + (k % 4) }), r.name + " ")); });
        children.push(legend);
        entry.runs.forEach(function (r, k) {  // one strip per run: the GT outline under that run's fill
          if (RUNS.length > 1) children.push(el("p", { className: "muted", text: "run " + RUNS[k].name }));
          children.push(drawFrames(entry, k));
        });
      } else {
        children.push(drawFrames(entry, 0));
      }
    }
    entry.notes.forEach(function (n) { children.push(el("p", { className: "muted note", text: n })); });
    entry.runs.forEach(function (r, k) {
      children.push(el("h3", { text: "Raw reply of " + RUNS[k].name }));
      children.push(el("pre", { className: "raw", "data-run": k, text: r.raw_reply === null ? (r.error ? "error: " + r.error : "(no reply)") : r.raw_reply }));
      if (r.judge) {
        children.push(el("h3", { text: "Judge of " + RUNS[k].name }));
        children.push(el("p", { className: "judge-verdict", "data-run": k, text: "verdict: " + (r.judge.verdict || "\u2013") + ", score: " + fmt(r.judge.score, 1) }));
        if (r.judge.raw) children.push(el("pre", { className: "raw judge-raw", "data-run": k, text: r.judge.raw }));
      }
    });
    detail.replaceChildren.apply(detail, children);
    detail.setAttribute("data-entry-id", entry.entry_id);
    detail.hidden = false;
    document.getElementById("browser").hidden = true;
    document.getElementById("summary").hidden = true;
    window.scrollTo(0, 0);
  }

  function route() {
    var match = /^#entry=(.*)$/.exec(location.hash);
    var detail = document.getElementById("entry-detail");
    if (!match) {
      detail.hidden = true;
      detail.removeAttribute("data-entry-id");
      document.getElementById("browser").hidden = false;
      document.getElementById("summary").hidden = false;
      return;
    }
    var id = decodeURIComponent(match[1]);
    var row = R.index.filter(function (r) { return r.id === id; })[0];
    if (!row) { showError("no entry " + id + " in this report"); return; }
    var list = visibleRows().map(function (r) { return r.i; });
    loadChunk(row.chunk, function () {
      var entry = chunks[row.chunk][row.i - row.chunk * R.chunk_size];
      drawEntry(entry, row.i, list);
    });
  }

  function start() {
    if (!R) { document.body.replaceChildren(el("p", { className: "warning", text: "data/report.js is missing: the report folder is incomplete." })); return; }
    document.title = R.title;
    document.getElementById("title").textContent = R.title;
    var notes = document.getElementById("notes");
    R.notes.forEach(function (n) { notes.appendChild(el("li", { text: n })); });
    drawRuns();
    drawTables();
    drawComparison();
    drawFilters();
    drawList();
    window.addEventListener("hashchange", route);
    route();
    document.body.setAttribute("data-ready", "1");
  }

  start();
})();
