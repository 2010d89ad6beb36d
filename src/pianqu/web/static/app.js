// pianqu web: the one-map page. Plain JS over MapLibre GL JS (vendored); every call goes to the
// server, which filters by county.
(function () {
  "use strict";
  const P = window.PIANQU;
  const ui = (k) => (P.ui[k] || {})[P.lang] || k;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const state = {csrf: null, me: null, county: null, scenario: "base", catalogue: null, edit: null, drawing: null};

  async function api(path, opts = {}) {
    const o = Object.assign({credentials: "same-origin", headers: {}}, opts);
    if (o.method && o.method !== "GET") o.headers["X-CSRF-Token"] = state.csrf || "";
    if (o.json !== undefined) { o.body = JSON.stringify(o.json); o.headers["Content-Type"] = "application/json"; }
    const sep = path.includes("?") ? "&" : "?";
    const r = await fetch(path + sep + "lang=" + P.lang, o);
    const ct = r.headers.get("content-type") || "";
    const body = ct.includes("json") ? await r.json() : null;
    if (!r.ok) { const e = new Error((body && body.detail) || r.statusText); e.status = r.status; e.body = body; throw e; }
    return body;
  }
  const base = () => "/api/counties/" + state.county;

  // -- login ---------------------------------------------------------------------------------
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/login", {method: "POST", json: {username: $("username").value, password: $("password").value}});
      $("login").classList.add("hidden"); $("app").classList.remove("hidden");
      await start();
    } catch (e) { $("login-error").textContent = e.message; }
  });
  $("btn-logout").onclick = async () => { await api("/api/logout", {method: "POST"}); location.href = "/"; };
  $("btn-lang").onclick = () => { document.cookie = "pianqu_lang=" + (P.lang === "zh" ? "en" : "zh") + ";path=/;samesite=strict"; location.reload(); };

  // -- map -----------------------------------------------------------------------------------
  const map = new maplibregl.Map({container: "map", style: {version: 8, sources: {}, layers: [
    {id: "background", type: "background", paint: {"background-color": "#f4f4f0"}}]},
    center: [104, 30.6], zoom: 6, preserveDrawingBuffer: true, attributionControl: false});
  window.map = map;
  map.addControl(new maplibregl.NavigationControl(), "top-left");
  map.addControl(new maplibregl.ScaleControl({unit: "metric"}), "bottom-left");

  function clearLayers() {
    for (const l of map.getStyle().layers.slice()) if (l.id !== "background" && !l.id.startsWith("draw")) map.removeLayer(l.id);
    for (const s of Object.keys(map.getStyle().sources)) if (!s.startsWith("draw")) map.removeSource(s);
  }

  function addLayers() {
    clearLayers();
    const layers = state.catalogue.layers.slice().sort((a, b) => a.order - b.order);
    for (const L of layers) {
      const src = L.scenario + ":" + L.layer;
      map.addSource(src, {type: "vector", minzoom: 0, maxzoom: 16,
        tiles: [location.origin + "/tiles/" + state.county + "/" + L.scenario + "/" + L.layer + "/{z}/{x}/{y}.pbf?rev=" + L.revision]});
      L.style.forEach((s, i) => {
        const spec = {id: src + "#" + i, source: src, "source-layer": L.layer, type: s.type, paint: s.paint,
          layout: {visibility: L.visible ? "visible" : "none"}, metadata: {layer: L.layer, scenario: L.scenario}};
        map.addLayer(spec);
      });
    }
    renderTree();
  }

  function renderTree() {
    const groups = {};
    for (const L of state.catalogue.layers) (groups[L.scenario] = groups[L.scenario] || []).push(L);
    let html = "";
    for (const [scn, list] of Object.entries(groups)) {
      html += "<h4>" + esc(scn === "base" ? ui("base") : ui("scenario") + " " + scn) + "</h4>";
      for (const L of list) html += '<label title="' + esc(L.layer) + '"><input type="checkbox" data-src="' + esc(L.scenario + ":" + L.layer) +
        '"' + (L.visible ? " checked" : "") + "> " + esc(L.name) + "</label>";
    }
    $("layer-tree").innerHTML = html;
    for (const cb of $("layer-tree").querySelectorAll("input")) cb.onchange = () => {
      const L = state.catalogue.layers.find((x) => x.scenario + ":" + x.layer === cb.dataset.src);
      L.visible = cb.checked;
      for (const l of map.getStyle().layers) if (l.source === cb.dataset.src) map.setLayoutProperty(l.id, "visibility", cb.checked ? "visible" : "none");
    };
  }

  async function loadCounty() {
    state.catalogue = await api(base() + "/catalogue?scenario=" + encodeURIComponent(state.scenario));
    const scns = [{name: "base", title: ui("base")}].concat(state.catalogue.scenarios);
    $("scenario").innerHTML = scns.map((s) => '<option value="' + esc(s.name) + '"' + (s.name === state.scenario ? " selected" : "") + ">" + esc(s.title) + "</option>").join("");
    for (const id of ["compare-a", "compare-b"]) $(id).innerHTML = scns.map((s) => '<option value="' + esc(s.name) + '">' + esc(s.title) + "</option>").join("");
    if (scns.length > 2) $("compare-b").value = scns[2].name;
    $("table-layer").innerHTML = state.catalogue.layers.map((L) => '<option value="' + esc(L.scenario + ":" + L.layer) + '">' + esc(L.name) + "</option>").join("");
    const c = state.me.counties.find((x) => x.code === state.county);
    $("notice").textContent = c && c.notice ? c.notice : "";
    $("btn-report").href = base() + "/report?scenario=" + state.scenario + "&lang=" + P.lang;
    addLayers();
    if (state.catalogue.bounds && !state.fitted) { map.fitBounds(state.catalogue.bounds, {padding: 20, duration: 0}); state.fitted = true; }
    loadEdit(); loadConflicts(); loadAudit();
  }

  async function start() {
    state.me = await api("/api/me");
    state.csrf = state.me.csrf;
    $("who").textContent = state.me.username + " (" + state.me.role + ")";
    $("county").innerHTML = state.me.counties.map((c) => '<option value="' + c.code + '">' + esc(c.name) + " " + c.code + "</option>").join("");
    state.county = state.me.counties.length ? state.me.counties[0].code : null;
    const planned = state.county ? (await api(base() + "/catalogue")).scenarios : [];
    state.scenario = planned.length ? planned[0].name : "base";
    if (state.county) { if (map.loaded()) await loadCounty(); else map.once("load", loadCounty); }
  }
  $("county").onchange = () => { state.county = $("county").value; state.fitted = false; state.scenario = "base"; loadCounty(); };
  $("scenario").onchange = () => { state.scenario = $("scenario").value; loadCounty(); };

  // -- tabs ----------------------------------------------------------------------------------
  for (const b of document.querySelectorAll("#tabs button")) b.onclick = () => {
    document.querySelectorAll("#tabs button").forEach((x) => x.classList.toggle("active", x === b));
    document.querySelectorAll(".tab").forEach((x) => x.classList.toggle("active", x.id === "tab-" + b.dataset.tab));
    if (b.dataset.tab === "audit") loadAudit();
    if (b.dataset.tab === "table") loadTable();
  };
  const showTab = (name) => document.querySelector('#tabs button[data-tab="' + name + '"]').click();

  // -- identify ------------------------------------------------------------------------------
  map.on("click", async (ev) => {
    if (state.drawing) return;
    const visible = state.catalogue.layers.filter((L) => L.visible).map((L) => L.layer).join(",");
    const r = await api(base() + "/identify?lon=" + ev.lngLat.lng + "&lat=" + ev.lngLat.lat + "&zoom=" + map.getZoom() +
      "&scenario=" + state.scenario + "&layers=" + encodeURIComponent(visible));
    $("tab-identify").innerHTML = r.results.map((f) => "<h4>" + esc(f.name) + "</h4><table>" +
      f.fields.map((x) => "<tr><th>" + esc(x.label) + "</th><td>" + esc(x.value) + "</td></tr>").join("") + "</table>").join("") || "—";
    showTab("identify");
  });

  // -- search --------------------------------------------------------------------------------
  let searchTimer = null;
  $("search").oninput = () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      const q = $("search").value.trim();
      if (!q) { $("search-results").innerHTML = ""; return; }
      const r = await api(base() + "/search?q=" + encodeURIComponent(q) + "&scenario=" + state.scenario);
      $("search-results").innerHTML = r.results.map((x, i) => '<div data-i="' + i + '">' + esc(x.layer_name + " · " + x.name + " " + x.code) + "</div>").join("");
      for (const d of $("search-results").children) d.onclick = () => {
        const x = r.results[+d.dataset.i]; map.fitBounds([[x.bounds[0], x.bounds[1]], [x.bounds[2], x.bounds[3]]], {padding: 60, maxZoom: 15, duration: 0});
        $("search-results").innerHTML = "";
      };
    }, 250);
  };

  // -- attribute table -----------------------------------------------------------------------
  async function loadTable() {
    const [scn, layer] = $("table-layer").value.split(":");
    if (!layer) return;
    const q = encodeURIComponent($("table-q").value);
    const url = base() + "/table/" + layer + "?scenario=" + scn + "&q=" + q;
    $("table-xlsx").href = url + "&format=xlsx&lang=" + P.lang;
    const r = await api(url + "&limit=200");
    $("table-result").innerHTML = "<p>" + r.total + "</p><table><tr>" + r.columns.map((c) => "<th>" + esc(c.label) + "</th>").join("") + "</tr>" +
      r.rows.map((row) => "<tr>" + row.map((v) => "<td>" + esc(v) + "</td>").join("") + "</tr>").join("") + "</table>";
  }
  $("table-layer").onchange = loadTable; $("table-q").onchange = loadTable;

  // -- zone edit -----------------------------------------------------------------------------
  async function loadEdit() {
    $("edit-form").innerHTML = ""; $("edit-findings").innerHTML = ""; state.edit = null;
    if (state.scenario === "base") return;
    let a;
    try { a = await api(base() + "/scenarios/" + state.scenario + "/assignment"); } catch (e) { return; }
    state.edit = a;
    const c = state.me.counties.find((x) => x.code === state.county);
    $("edit-form").innerHTML = "<p>" + ui("revision") + " r" + a.revision + "</p><table>" + a.townships.map((t) => "<tr><td>" + esc(t.name) + "</td><td><select data-code='" + t.code + "'" + (c.editable ? "" : " disabled") + ">" +
      a.zones.map((z) => '<option value="' + esc(z.zone) + '"' + (a.assignment[t.code] === z.zone ? " selected" : "") + ">" + esc(z.name) + "</option>").join("") + "</select></td></tr>").join("") + "</table>";
    $("edit-save").disabled = !c.editable;
    for (const s of $("edit-form").querySelectorAll("select")) s.onchange = () => { state.edit.assignment[s.dataset.code] = s.value; runCheck(); };
  }
  function renderFindings(list) {
    return (list.length ? list.map((f) => '<li class="finding-' + esc(f.severity) + '">' + esc(f.message) + "</li>").join("") : "<li>" + ui("check_ok") + "</li>");
  }
  async function runCheck() {
    const r = await api(base() + "/scenarios/" + state.scenario + "/check", {method: "POST", json: {assignment: state.edit.assignment}});
    $("edit-findings").innerHTML = "<h4>" + ui("findings") + "</h4><ul id='findings-list'>" + renderFindings(r.findings || []) + "</ul>";
  }
  $("edit-save").onclick = async () => {
    try {
      const r = await api(base() + "/scenarios/" + state.scenario + "/save", {method: "POST",
        json: {assignment: state.edit.assignment, reason: $("edit-reason").value, base_revision: state.edit.revision}});
      $("edit-status").textContent = ui("saved") + " r" + r.revision;
      await loadCounty();
    } catch (e) { $("edit-status").textContent = (e.status === 409 ? ui("stale") + ": " : "") + e.message; }
  };

  // -- conflicts -----------------------------------------------------------------------------
  async function loadConflicts() {
    $("conflict-list").innerHTML = "";
    if (state.scenario === "base") return;
    const r = await api(base() + "/scenarios/" + state.scenario + "/conflicts");
    const c = state.me.counties.find((x) => x.code === state.county);
    $("conflict-list").innerHTML = "<table>" + r.rows.map((x) => "<tr><td>" + esc(x.conflict_id) + "</td><td>" + esc(x.name) + "</td><td>" + esc(x.state) +
      "</td><td>" + (c.editable && x.options.length ? "<select>" + x.options.map((o) => "<option>" + esc(o) + "</option>").join("") + "</select><button data-id='" + esc(x.conflict_id) + "'>" + ui("decide") + "</button>" : esc(x.action || "")) + "</td></tr>").join("") + "</table>";
    for (const b of $("conflict-list").querySelectorAll("button")) b.onclick = async () => {
      try {
        const res = await api(base() + "/scenarios/" + state.scenario + "/conflicts/" + b.dataset.id + "/decide", {method: "POST",
          json: {resolution: b.previousSibling.value, reason: $("edit-reason").value, base_revision: r.revision}});
        $("conflict-status").textContent = ui("saved") + " r" + res.revision; loadConflicts();
      } catch (e) { $("conflict-status").textContent = (e.status === 409 ? ui("stale") + ": " : "") + e.message; }
    };
  }

  // -- compare, audit ------------------------------------------------------------------------
  $("compare-go").onclick = async () => {
    const r = await api(base() + "/compare?a=" + $("compare-a").value + "&b=" + $("compare-b").value);
    const h = r.headers;
    let html = "<h4>" + ui("members") + "</h4>";
    html += r.members.length ? "<table id='compare-members'><tr><th>" + esc(h.township_code) + "</th><th>" + esc(h.zone_a) + " (" + esc(r.a) + ")</th><th>" + esc(h.zone_b) + " (" + esc(r.b) + ")</th></tr>" +
      r.members.map((m) => "<tr><td>" + esc(m.name) + "</td><td>" + esc(m.zone_a) + "</td><td>" + esc(m.zone_b) + "</td></tr>").join("") + "</table>" : "<p id='compare-members'>" + ui("no_diff") + "</p>";
    html += "<h4>" + ui("zones") + "</h4>";
    for (const k of ["a", "b"]) html += "<p>" + esc(r[k]) + "</p><table>" + r.zones[k].map((z) => "<tr>" + Object.entries(z).map(([c, v]) => "<td title='" + esc(h[c] || c) + "'>" + esc(v) + "</td>").join("") + "</tr>").join("") + "</table>";
    $("compare-result").innerHTML = html;
  };
  async function loadAudit() {
    if (!state.county) return;
    const r = await api(base() + "/audit?limit=100");
    $("audit-list").innerHTML = "<table id='audit-table'><tr><th>" + ui("when") + "</th><th>" + ui("who") + "</th><th>" + ui("what") + "</th><th>" + ui("why") + "</th><th>" + ui("revision") + "</th></tr>" +
      r.rows.map((x) => "<tr><td>" + esc(x.ts) + "</td><td>" + esc(x.user) + "</td><td>" + esc(x.command + " " + (x.scenario || "") + " " + x.layer) + "</td><td>" + esc(x.reason) + "</td><td>r" + x.from_revision + "→r" + x.to_revision + "</td></tr>").join("") + "</table>";
  }

  // -- draw a polygon → statistics -----------------------------------------------------------
  $("draw-start").onclick = () => { state.drawing = []; map.getCanvas().style.cursor = "crosshair"; map.doubleClickZoom.disable(); };
  function drawPreview() {
    const coords = state.drawing.concat(state.drawing.length ? [state.drawing[0]] : []);
    const data = {type: "Feature", geometry: {type: "LineString", coordinates: coords}};
    if (map.getSource("draw")) map.getSource("draw").setData(data);
    else { map.addSource("draw", {type: "geojson", data}); map.addLayer({id: "draw-line", type: "line", source: "draw", paint: {"line-color": "#ff0000", "line-width": 2}}); }
  }
  map.on("click", (ev) => { if (state.drawing) { state.drawing.push([ev.lngLat.lng, ev.lngLat.lat]); drawPreview(); } });
  map.on("dblclick", async (ev) => {
    if (!state.drawing) return;
    ev.preventDefault();
    const ring = state.drawing.concat([state.drawing[0]]);
    state.drawing = null; map.getCanvas().style.cursor = ""; setTimeout(() => map.doubleClickZoom.enable(), 0);
    if (ring.length < 4) return;
    const r = await api(base() + "/stats", {method: "POST", json: {scenario: state.scenario, geometry: {type: "Polygon", coordinates: [ring]}}});
    $("draw-result").innerHTML = "<p>" + ui("area") + ": " + r.area_ha.toFixed(2) + " ha · " + ui("population") + ": " + r.population + "</p><table>" +
      r.classes.map((c) => "<tr><td>" + esc(c["class"] + " " + c.name) + "</td><td>" + c.area_ha.toFixed(2) + " ha" + (c.net_area_ha != null ? " (" + c.net_area_ha.toFixed(2) + ")" : "") + "</td></tr>").join("") +
      "</table><p>" + ui("facilities") + ": " + esc(Object.entries(r.facilities).map(([k, v]) => k + " " + v).join(", ")) + "</p>";
    showTab("draw");
  });

  // -- validate an upload --------------------------------------------------------------------
  $("validate-go").onclick = async () => {
    const f = $("validate-file").files[0];
    if (!f) return;
    const fd = new FormData(); fd.append("file", f);
    try {
      const r = await api(base() + "/validate", {method: "POST", body: fd});
      $("validate-result").innerHTML = "<ul>" + renderFindings(r.findings) + "</ul>";
    } catch (e) { $("validate-result").textContent = e.message; }
  };

  // -- export the view as PNG: title, legend, scale bar, north arrow, synthetic notice --------
  $("btn-png").onclick = () => {
    const src = map.getCanvas();
    const W = src.width, H = src.height, pad = 60;
    const c = document.createElement("canvas"); c.width = W; c.height = H + pad * 2;
    const g = c.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
    g.drawImage(src, 0, pad);
    const county = state.me.counties.find((x) => x.code === state.county);
    g.fillStyle = "#000"; g.font = "bold 22px sans-serif";
    g.fillText((county ? county.name : "") + " · " + (state.scenario === "base" ? ui("base") : state.scenario) + " · " + ui("title"), 16, 38);
    // north arrow
    g.beginPath(); g.moveTo(W - 30, pad + 10); g.lineTo(W - 40, pad + 40); g.lineTo(W - 20, pad + 40); g.closePath(); g.fill();
    g.font = "14px sans-serif"; g.fillText(ui("north"), W - 36, pad + 56);
    // scale bar: 1/5 of the width, in round metres
    const y = map.getCenter().lat, mpp = 40075016.686 * Math.cos(y * Math.PI / 180) / (512 * Math.pow(2, map.getZoom())) * (src.width / src.clientWidth ? src.clientWidth / src.width : 1);
    let metres = mpp * W / 5; const p10 = Math.pow(10, Math.floor(Math.log10(metres))); metres = Math.floor(metres / p10) * p10;
    const px = metres / mpp; g.fillRect(16, H + pad + 14, px, 6);
    g.fillText(metres >= 1000 ? metres / 1000 + " km" : metres + " m", 16 + px + 6, H + pad + 22);
    // legend: the visible layers
    g.font = "12px sans-serif"; let lx = 200;
    g.fillText(ui("legend") + ":", lx, H + pad + 22); lx += 50;
    for (const L of state.catalogue.layers.filter((x) => x.visible)) {
      const p = L.style[L.style.length - 1].paint; const col = p["line-color"] || p["fill-color"] || p["circle-color"];
      g.fillStyle = typeof col === "string" ? col : "#888"; g.fillRect(lx, H + pad + 12, 14, 10);
      g.fillStyle = "#000"; g.fillText(L.name, lx + 18, H + pad + 22); lx += 30 + g.measureText(L.name).width;
    }
    if (county && county.notice) { g.fillStyle = "#b00020"; g.font = "12px sans-serif"; g.fillText(county.notice, 16, H + pad + 48); }
    const a = document.createElement("a"); a.download = "pianqu-" + state.county + ".png"; a.href = c.toDataURL("image/png"); a.click();
  };

  if (P.loggedIn) start();
})();
