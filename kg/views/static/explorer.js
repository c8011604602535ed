/* The relationship explorer: draws the embedded graph with vis-network and wires the panel, Expand, search, reset,
 * freeze and PNG export. Every record string is shown with textContent or as canvas text, never as markup. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("kg-data").textContent);
  var CONFIG = JSON.parse(document.getElementById("kg-config").textContent);
  var NCT = /^NCT\d{8}$/;
  var CTGOV = "https://clinicaltrials.gov/study/";
  var EDGE_COLOURS = { related: "#2f6db5", broader: "#9aa3ad", "pharmacological-action": "#b48ad0", under: "#c7a27a" };
  // Spring length per edge kind: hierarchy chains stay tight, related trials stand apart.
  var EDGE_LENGTHS = { related: 240, under: 170, condition: 150, intervention: 150, "condition-MeSH": 190,
                       "intervention-MeSH": 190, "registry-ancestor": 190, broader: 70, "pharmacological-action": 80,
                       "maps-to": 70 };
  var MIN_SCALE = 0.5;

  var known = {}; // node id -> node data (first view, catalogue, and whatever the server sends)
  DATA.nodes.forEach(function (node) { known[node.id] = node; });
  Object.keys(DATA.catalogue || {}).forEach(function (id) { known[id] = DATA.catalogue[id]; });
  var expansions = DATA.expansions || {};
  var expanded = {};

  var container = document.getElementById("kg-graph");
  var panel = document.getElementById("kg-panel");
  var statusLine = document.getElementById("kg-status");
  var freezeButton = document.getElementById("kg-freeze");
  var physicsState = "settling";
  var frozen = false;

  function el(tag, text, className) {
    var element = document.createElement(tag);
    if (text !== undefined && text !== null) element.textContent = String(text);
    if (className) element.className = className;
    return element;
  }

  function clip(text, size) {
    text = String(text);
    return text.length > size ? text.slice(0, size - 1) + "…" : text;
  }

  function kindName(node) {
    if (node.kind === "trial") return node.id === DATA.centre ? "Trial (centre)" : "Trial";
    return (CONFIG.groups[node.group] || node.kind);
  }

  function hoverLines(node) {
    var f = node.facts || {};
    if (node.kind === "trial") {
      return [
        [f.phases, f.status].filter(Boolean).join(" · "),
        f.start ? "start " + f.start + (f.completion ? ", completion " + f.completion : "") : "",
        f.enrollment !== null && f.enrollment !== undefined ? "enrollment " + f.enrollment : "",
        f.synthetic ? "SYNTHETIC record" : "",
      ];
    }
    if (node.kind === "concept") {
      return [
        f.ui + " · " + f.kind,
        f.tree_numbers && f.tree_numbers.length ? "tree " + f.tree_numbers.slice(0, 3).join(", ") : "",
        "trials at or under: " + f.trials_at_or_under,
      ];
    }
    return [(f.type ? f.type + " · " : "") + "named by " + f.trials + " trial(s)"];
  }

  function hover(node) {
    var box = el("div");
    box.appendChild(el("strong", node.kind === "trial" ? node.id + ": " + clip(node.name, 160) : node.name));
    box.appendChild(el("div", kindName(node)));
    hoverLines(node).forEach(function (line) { if (line) box.appendChild(el("div", line)); });
    return box;
  }

  function visNode(node) {
    var centre = node.id === DATA.centre;
    var style = centre ? CONFIG.centre_style : CONFIG.styles[node.group] || CONFIG.styles.concept;
    var item = {
      id: node.id,
      label: node.label,  // plain canvas text (vis-network's font.multi stays off: no markup in record text)
      title: hover(node),
      shape: style.shape,
      color: { background: style.color, border: centre ? "#8a6500" : "#ffffff",
               highlight: { background: style.color, border: "#1d2430" } },
      borderWidth: centre ? 2 : 1,
      size: centre ? 30 : node.kind === "trial" ? 14 : 11,
      font: { size: centre ? 18 : 15, color: "#1d2430", strokeWidth: 4, strokeColor: "#ffffff" },
    };
    if (style.shape === "box") {
      item.font = { size: 14, color: "#1d2430" };
      item.margin = 6;
    }
    if (node.kind === "trial" && !centre) {
      // Its short title wraps under the NCT id, and a heavier node pushes neighbours clear of that taller label.
      item.font.size = 13;
      item.widthConstraint = { maximum: 170 };
      item.mass = 2;
    }
    return item;
  }

  var edgeData = {}; // edge id -> edge data, for the edge panel

  function visEdge(edge) {
    edgeData[edge.id] = edge;
    var colour = EDGE_COLOURS[edge.kind] || "#b9c0ca";
    var item = {
      id: edge.id,
      from: edge.from,
      to: edge.to,
      label: edge.label,
      arrows: edge.kind === "related" ? "" : "to",
      color: { color: colour, highlight: "#d9822b", hover: "#d9822b" },
      width: edge.kind === "related" ? 2 : 1,
      length: EDGE_LENGTHS[edge.kind] || 100,
      dashes: edge.kind === "under",
      font: { size: 11, color: "#4a5360", strokeWidth: 3, strokeColor: "#ffffff", align: "middle" },
    };
    if (edge.summary) item.title = el("div", edge.summary);
    return item;
  }

  var nodes = new vis.DataSet(DATA.nodes.map(visNode));
  var edges = new vis.DataSet(DATA.edges.map(visEdge));
  var network = new vis.Network(container, { nodes: nodes, edges: edges }, {
    autoResize: true,
    interaction: { hover: true, tooltipDelay: 150, navigationButtons: false, keyboard: false },
    physics: {
      enabled: true,
      solver: "barnesHut",
      barnesHut: { gravitationalConstant: -6000, centralGravity: 0.3, springLength: 100, springConstant: 0.04,
                   damping: 0.35, avoidOverlap: 0.5 },
      minVelocity: 0.75,
      stabilization: { enabled: true, iterations: 400, updateInterval: 50, fit: false },
    },
    // Edge labels appear once zoomed in far enough to read them (11px at scale 0.75 and up).
    edges: { smooth: { enabled: true, type: "continuous", roundness: 0.3 }, scaling: { label: { drawThreshold: 8 } } },
    layout: { randomSeed: 20251114, improvedLayout: DATA.nodes.length < 150 },  // the same picture every time
  });

  function showStatus() {
    statusLine.textContent = nodes.length + " nodes · " + edges.length + " edges · physics " +
      (frozen ? "frozen" : physicsState);
  }
  // Fit the first view, but never so far out that labels cannot be read: then centre on the trial instead.
  function fitReadable() {
    network.fit();
    if (network.getScale() < MIN_SCALE) {
      var position = network.getPositions([DATA.centre])[DATA.centre];
      network.moveTo({ position: position, scale: MIN_SCALE });
    }
  }
  network.once("stabilizationIterationsDone", fitReadable);
  network.on("stabilizationIterationsDone", function () { physicsState = "settled"; showStatus(); });
  network.on("stabilized", function () { physicsState = "settled"; showStatus(); });
  network.on("startStabilizing", function () { physicsState = "settling"; showStatus(); });
  showStatus();

  function showHint() {
    panel.textContent = "";
    panel.appendChild(el("p", "Click a node to see its details and expand it; click an edge to see why it is there.",
                         "kg-hint"));
    panel.appendChild(el("p", "MeSH hierarchy: " + DATA.hierarchy + ". Expand works offline for " + CONFIG.depth +
                         " hop(s) beyond this first view" + (CONFIG.api_base ? "; the server supplies more." : "."),
                         "kg-hint"));
  }
  showHint();

  // --- the side panel ---------------------------------------------------------------------------------------------

  function facts(list, pairs) {
    var dl = el("dl");
    pairs.forEach(function (pair) {
      var value = pair[1];
      if (value === null || value === undefined || value === "") return;
      dl.appendChild(el("dt", pair[0]));
      dl.appendChild(el("dd", value));
    });
    list.appendChild(dl);
  }

  function bulletList(parent, heading, items) {
    if (!items || !items.length) return;
    parent.appendChild(el("h3", heading + " (" + items.length + ")"));
    var ul = el("ul");
    items.forEach(function (item) { ul.appendChild(el("li", item)); });
    parent.appendChild(ul);
  }

  function dates(f) {
    return [["Start", f.start], ["Primary completion", f.primary_completion], ["Completion", f.completion]];
  }

  function trialPanel(node, body) {
    var f = node.facts;
    var title = el("h2", f.title || node.id + " (no title in the record)");
    title.id = "kg-panel-title";
    body.appendChild(title);
    if (f.synthetic) body.appendChild(el("span", "SYNTHETIC record", "kg-synthetic"));
    facts(body, [
      ["NCT id", node.id], ["Acronym", f.acronym], ["Phase", f.phases], ["Status", f.status],
      ["Study type", f.study_type],
    ].concat(dates(f), [
      ["Enrollment", f.enrollment], ["Lead sponsor", f.lead_sponsor], ["Sponsor class", f.sponsor_class],
      ["Sites", f.sites], ["Countries", f.countries],
    ]));
    if (f.health) {
      body.appendChild(el("h3", "Health"));
      body.appendChild(el("div", f.health.score + " / 100 · " + f.health.label, "kg-health"));
      var ul = el("ul");
      Object.keys(f.health.components).forEach(function (name) {
        var part = f.health.components[name];
        ul.appendChild(el("li", name + " " + part.points + "/" + part.max_points + ": " + part.explanation));
      });
      body.appendChild(ul);
    }
    bulletList(body, "MeSH conditions", f.mesh_conditions);
    bulletList(body, "MeSH interventions", f.mesh_interventions);
    if (NCT.test(node.id)) {
      var link = el("a", "Open " + node.id + " on ClinicalTrials.gov");
      link.href = CTGOV + node.id;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.id = "kg-ctgov-link";
      var p = el("p");
      p.appendChild(link);
      body.appendChild(p);
    }
  }

  function conceptPanel(node, body) {
    var f = node.facts;
    var title = el("h2", f.label);
    title.id = "kg-panel-title";
    body.appendChild(title);
    facts(body, [
      ["MeSH UI", f.ui], ["Kind", f.kind], ["Depth", f.depth],
      ["Trials at or under", f.trials_at_or_under + (f.trials_source === "counted" ? " (counted)" : "")],
      ["Information content", f.information_content === null ? null : Number(f.information_content).toFixed(2)],
    ]);
    bulletList(body, "Tree numbers", f.tree_numbers);
    bulletList(body, "Registry spellings", f.registry_terms);
  }

  function writtenPanel(node, body) {
    var f = node.facts;
    var title = el("h2", f.label);
    title.id = "kg-panel-title";
    body.appendChild(title);
    facts(body, [["Type", f.type], ["Trials naming it", f.trials]]);
    bulletList(body, "Other spellings", f.spellings);
  }

  var EXPAND_TEXT = { trial: "Expand: related trials and MeSH terms", concept: "Expand: broader concepts and trials",
                      condition: "Expand: trials naming it", intervention: "Expand: trials naming it" };

  function showPanel(id) {
    var node = known[id];
    if (!node) return;
    panel.textContent = "";
    panel.appendChild(el("div", kindName(node), "kg-kind"));
    if (node.kind === "trial") trialPanel(node, panel);
    else if (node.kind === "concept") conceptPanel(node, panel);
    else writtenPanel(node, panel);
    var actions = el("div", null, "kg-actions");
    var button = el("button", EXPAND_TEXT[node.kind] || "Expand");
    button.type = "button";
    button.id = "kg-expand";
    var message = el("div", "", "kg-message");
    message.id = "kg-expand-message";
    button.addEventListener("click", function () { expandNode(id, message); });
    actions.appendChild(button);
    panel.appendChild(actions);
    panel.appendChild(message);
    if (expanded[id]) message.textContent = "Already expanded.";
  }

  // --- expanding ----------------------------------------------------------------------------------------------------

  function around(id, count) {
    var centre = network.getPositions([id])[id] || { x: 0, y: 0 };
    var places = [];
    for (var i = 0; i < count; i += 1) {
      var angle = (2 * Math.PI * i) / Math.max(count, 1);
      var radius = 170 + 25 * (i % 3);
      places.push({ x: centre.x + radius * Math.cos(angle), y: centre.y + radius * Math.sin(angle) });
    }
    return places;
  }

  function apply(id, hopNodes, hopEdges) {
    var fresh = hopNodes.filter(function (node) { return node && !nodes.get(node.id); });
    var places = around(id, fresh.length);
    nodes.add(fresh.map(function (node, i) {
      var item = visNode(node);
      item.x = places[i].x;
      item.y = places[i].y;
      return item;
    }));
    var newEdges = hopEdges.filter(function (edge) { return !edges.get(edge.id) && nodes.get(edge.from) && nodes.get(edge.to); });
    edges.add(newEdges.map(visEdge));
    expanded[id] = true;
    showStatus();
    return { nodes: fresh.length, edges: newEdges.length };
  }

  function report(message, added) {
    message.textContent = added.nodes || added.edges
      ? "Added " + added.nodes + " node(s) and " + added.edges + " edge(s)."
      : "Nothing new to add: its neighbours are already shown.";
  }

  function expandNode(id, message) {
    message = message || el("div");
    var embedded = expansions[id];
    if (embedded) {
      report(message, apply(id, embedded.nodes.map(function (n) { return known[n]; }), embedded.edges));
      return Promise.resolve();
    }
    if (!CONFIG.api_base) {
      message.textContent = "This page embeds " + CONFIG.depth + " hop(s) of data beyond its first view; " +
        "the local server supplies more: run `kg serve` and open this trial there.";
      return Promise.resolve();
    }
    message.textContent = "Asking the server…";
    var url = CONFIG.api_base + "/expand/" + encodeURIComponent(id) + "?top=" + encodeURIComponent(CONFIG.top);
    return fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("the server answered " + response.status);
        return response.json();
      })
      .then(function (hop) {
        hop.nodes.forEach(function (node) { if (!known[node.id]) known[node.id] = node; });
        expansions[id] = { nodes: hop.nodes.map(function (node) { return node.id; }), edges: hop.edges };
        report(message, apply(id, hop.nodes, hop.edges));
      })
      .catch(function (error) { message.textContent = "Could not expand: " + error.message; });
  }

  function showEdgePanel(id) {
    var edge = edges.get(id);
    var data = edgeData[id];
    if (!edge || !data) return;
    panel.textContent = "";
    panel.appendChild(el("div", "Edge: " + data.kind.replace(/-/g, " "), "kg-kind"));
    var title = el("h2", data.from + " → " + data.to);
    title.id = "kg-panel-title";
    panel.appendChild(title);
    [data.from, data.to].forEach(function (end) {
      var node = known[end];
      if (!node) return;
      var button = el("button", (node.kind === "trial" ? node.id + ": " : "") + clip(node.name, 90));
      button.type = "button";
      button.addEventListener("click", function () { focusNode(end); });
      panel.appendChild(button);
    });
    if (data.summary) panel.appendChild(el("p", data.summary));
  }

  network.on("click", function (params) {
    if (params.nodes.length) showPanel(params.nodes[0]);
    else if (params.edges.length) showEdgePanel(params.edges[0]);
  });

  // --- search, reset, freeze, PNG -------------------------------------------------------------------------------------

  var searchInput = document.getElementById("kg-search-input");
  var searchList = document.getElementById("kg-search-list");

  function matches(query) {
    var needle = query.trim().toLowerCase();
    if (!needle) return [];
    return nodes.getIds().map(function (id) { return known[id]; }).filter(function (node) {
      return node && (node.id.toLowerCase().indexOf(needle) >= 0 || String(node.name).toLowerCase().indexOf(needle) >= 0);
    }).sort(function (a, b) {
      var exact = (b.id.toLowerCase() === needle) - (a.id.toLowerCase() === needle);
      return exact || String(a.name).length - String(b.name).length;
    });
  }

  function focusNode(id) {
    network.selectNodes([id]);
    network.focus(id, { scale: 1.1, animation: { duration: 400, easingFunction: "easeInOutQuad" } });
    showPanel(id);
  }

  searchInput.addEventListener("input", function () {
    searchList.textContent = "";
    matches(searchInput.value).slice(0, 20).forEach(function (node) {
      var option = document.createElement("option");
      option.value = node.id;
      option.label = clip(node.name, 80);
      searchList.appendChild(option);
    });
  });

  document.getElementById("kg-search").addEventListener("submit", function (event) {
    event.preventDefault();
    var found = matches(searchInput.value);
    if (found.length === 1 || (found.length && found[0].id.toLowerCase() === searchInput.value.trim().toLowerCase())) {
      focusNode(found[0].id);
      return;
    }
    panel.textContent = "";
    if (!found.length) {
      panel.appendChild(el("p", "No node in view matches “" + searchInput.value + "”.", "kg-message"));
      return;
    }
    panel.appendChild(el("h3", found.length + " nodes match “" + searchInput.value + "”"));
    var results = el("div", null, "kg-results");
    found.slice(0, 50).forEach(function (node) {
      var button = el("button", (node.kind === "trial" ? node.id + ": " : "") + clip(node.name, 90));
      button.type = "button";
      button.addEventListener("click", function () { focusNode(node.id); });
      results.appendChild(button);
    });
    panel.appendChild(results);
  });

  function setFrozen(value) {
    frozen = value;
    network.setOptions({ physics: { enabled: !frozen } });
    freezeButton.textContent = frozen ? "Unfreeze" : "Freeze";
    freezeButton.setAttribute("aria-pressed", frozen ? "true" : "false");
    showStatus();
  }
  freezeButton.addEventListener("click", function () { setFrozen(!frozen); });

  document.getElementById("kg-reset").addEventListener("click", function () {
    nodes.clear();
    edges.clear();
    expanded = {};
    nodes.add(DATA.nodes.map(visNode));
    edges.add(DATA.edges.map(visEdge));
    showHint();
    searchInput.value = "";
    setFrozen(false);
    network.once("stabilizationIterationsDone", fitReadable);
    network.stabilize(300);
  });

  document.getElementById("kg-png").addEventListener("click", function () {
    var source = container.querySelector("canvas");
    var out = document.createElement("canvas");
    out.width = source.width;
    out.height = source.height;
    var context = out.getContext("2d");
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, out.width, out.height);
    context.drawImage(source, 0, 0);
    var link = document.createElement("a");
    link.download = DATA.centre + "-explorer.png";
    link.href = out.toDataURL("image/png");
    document.body.appendChild(link);
    link.click();
    link.remove();
  });

  // For tests and the console: the network and its data, and the panel's own entry points.
  window.kgExplorer = { network: network, nodes: nodes, edges: edges, known: known, showPanel: showPanel,
                        expandNode: expandNode, data: DATA };
})();
