// The page of `chainrule serve`. Everything is computed by the local server (/api/...); this script only sends the
// form, puts the answers (MathML, SVG, HTML tables made on the server) in place, and keeps the state in the address.
"use strict";

const $ = (id) => document.getElementById(id);
const VIEWS = ["result", "work", "backward", "export"];
const state = {
  view: "result", vars: {}, wrt: "", at: {}, seed: 0, target: "numpy", hessian: null, cache: {}, steps: [], step: -1,
};
const TARGETS = { numpy: "NumPy", torch: "PyTorch", jax: "JAX" };

// ---- the address: ?expr=...&wrt=...&var=A:symmetric&order=2&layout=...&mode=...&view=...&at=x:1,2&seed=1
//      &target=torch&hessian=1 ----

function params(withValues) {
  const q = new URLSearchParams();
  q.set("expr", $("expr").value.trim());
  if (state.wrt) q.set("wrt", state.wrt);
  for (const [name, decl] of Object.entries(state.vars)) if (decl) q.append("var", `${name}:${decl}`);
  if ($("order").value !== "1") q.set("order", $("order").value);
  if ($("layout").value !== "numerator") q.set("layout", $("layout").value);
  if ($("mode").value !== "reverse") q.set("mode", $("mode").value);
  if (state.target !== "numpy") q.set("target", state.target);
  if (withValues) {
    for (const [name, value] of Object.entries(state.at)) if (value) q.append("at", `${name}:${value}`);
    if (state.seed) q.set("seed", String(state.seed));
  }
  return q;
}

function saveAddress() {
  const q = params(true);
  if (state.view !== "result") q.set("view", state.view);
  if (state.hessian !== null) q.set("hessian", state.hessian ? "1" : "0");
  history.replaceState(null, "", "?" + q.toString());
}

function loadAddress() {
  const q = new URLSearchParams(location.search);
  $("expr").value = q.get("expr") || "";
  state.wrt = q.get("wrt") || "";
  state.vars = {};
  for (const item of q.getAll("var")) {
    const [name, ...rest] = item.split(/[:=]/);
    state.vars[name] = rest.join(":");
  }
  state.at = {};
  for (const item of q.getAll("at")) {
    const k = item.search(/[:=]/);
    if (k > 0) state.at[item.slice(0, k)] = item.slice(k + 1);
  }
  state.seed = parseInt(q.get("seed") || "0", 10) || 0;
  state.target = TARGETS[q.get("target")] ? q.get("target") : "numpy";
  const hessian = q.get("hessian");
  state.hessian = hessian === "1" ? true : hessian === "0" ? false : null;
  setSelect("order", q.get("order") || "1");
  setSelect("layout", q.get("layout") || "numerator");
  setSelect("mode", q.get("mode") || "reverse");
  const view = q.get("view");
  state.view = VIEWS.includes(view) ? view : "result";
}

function setSelect(id, value) {
  const select = $(id);
  if (![...select.options].some((o) => o.value === value)) select.add(new Option(value, value));
  select.value = value;
}

// ---- talking to the server ----

async function api(kind, query) {
  const response = await fetch(`/api/${kind}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(query),
  });
  const body = await response.json();
  if (body.error) throw Object.assign(new Error(body.error.message), { details: body.error });
  return body;
}

function asObject(q) {
  const out = {};
  for (const key of new Set(q.keys())) out[key] = q.getAll(key);
  return out;
}

function showError(error) {
  const box = $("error");
  const details = error.details || { rendered: String(error.message || error) };
  box.querySelector("pre").textContent = details.rendered;
  box.hidden = false;
  $("expr").setAttribute("aria-invalid", "true");
  status("");
}

function clearError() {
  $("error").hidden = true;
  $("expr").removeAttribute("aria-invalid");
}

function status(text) { $("status").textContent = text; }

// ---- derive: the result view, the variables, then the open view ----

async function derive() {
  const expr = $("expr").value.trim();
  if (!expr) return;
  state.key = params(false).toString();
  state.cache = {};
  status("computing…");
  let answer;
  try {
    answer = await api("derive", asObject(params(false)));
  } catch (error) {
    showError(error);
    saveAddress();
    return;
  }
  clearError();
  state.wrt = answer.wrt;
  state.cache.derive = answer;
  showVariables(answer.variables);
  showResult(answer);
  saveAddress();
  status("");
  await openView(state.view);
}

function showVariables(variables) {
  const body = $("vars").querySelector("tbody");
  body.replaceChildren();
  for (const v of variables) {
    const row = document.createElement("tr");
    const dims = v.shape.length ? ` (${v.shape.join("×")})` : "";
    const declared = state.vars[v.name] || "";
    const kinds = ["", "scalar", "vector", "matrix", "symmetric", "sizes"];
    const select = document.createElement("select");
    select.setAttribute("aria-label", `kind of ${v.name}`);
    select.dataset.name = v.name;
    for (const kind of kinds) {
      const label = kind === "" ? `${v.kind}${dims}, ${origin(v.origin)}` : kind === "sizes" ? "explicit sizes" : kind;
      select.add(new Option(label, kind));
    }
    const isKind = ["scalar", "vector", "matrix", "symmetric"].includes(declared);
    select.value = declared === "" ? "" : isKind ? declared : "sizes";
    const sizes = document.createElement("input");
    sizes.type = "text";
    sizes.placeholder = "e.g. m,n or 3";
    sizes.setAttribute("aria-label", `sizes of ${v.name}`);
    sizes.value = isKind ? "" : declared;
    sizes.hidden = select.value !== "sizes";
    select.addEventListener("change", () => {
      sizes.hidden = select.value !== "sizes";
      if (select.value !== "sizes") { state.vars[v.name] = select.value; derive(); } else sizes.focus();
    });
    sizes.addEventListener("change", () => { state.vars[v.name] = sizes.value.trim(); derive(); });
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "wrt";
    radio.value = v.name;
    radio.checked = v.name === state.wrt;
    radio.setAttribute("aria-label", `differentiate by ${v.name}`);
    radio.addEventListener("change", () => { state.wrt = v.name; state.at = {}; derive(); });
    const cells = [document.createTextNode(v.name), select, sizes, radio];
    for (const cell of cells) { const td = document.createElement("td"); td.append(cell); row.append(td); }
    body.append(row);
  }
  $("vars").hidden = variables.length === 0;
}

function origin(word) {
  return { name: "guessed from the name", use: "fixed by use", declared: "declared" }[word] || word;
}

function showResult(answer) {
  const r = answer.result;
  const by = answer.order === 1 ? `∂f/∂${answer.wrt}` : `order ${answer.order} by ${answer.wrt}`;
  $("result-math").innerHTML = r.mathml;
  $("result-facts").textContent = `${by}: ${r.kind}, shape (${r.shape.join("×") || "scalar"}); text: ${r.text}`;
  $("result-index").innerHTML = r.index ? `<p class="muted">In index notation:</p>${r.index.mathml}` : "";
  const c = answer.check;
  const check = $("result-check");
  check.className = c.ok === true ? "ok" : c.ok === false ? "bad" : "muted";
  check.textContent = c.ok === null ? `numeric check: ${c.message}` : `numeric check at random values: ${c.message}`;
  $("result-notes").textContent = answer.notes.join(" ");
}

// ---- the views ----

async function openView(view) {
  state.view = view;
  for (const v of VIEWS) {
    $(`view-${v}`).hidden = v !== view;
    document.querySelector(`.tabs [data-view="${v}"]`).setAttribute("aria-selected", String(v === view));
  }
  saveAddress();
  if (!state.cache.derive) return;
  const show = { work: showWork, backward: showBackward, export: showExport }[view];
  if (show) await show();
}

async function cached(kind, query) {
  const key = kind + "?" + new URLSearchParams(query).toString();
  if (!state.cache[key]) state.cache[key] = await api(kind, query);
  return state.cache[key];
}

async function guarded(work) {
  status("computing…");
  try { await work(); clearError(); status(""); } catch (error) { showError(error); }
}

async function showWork() {
  await guarded(async () => {
    const answer = await cached("explain", asObject(params(false)));
    const note = answer.first_order_only ? "<p class=\"muted\">The steps show the first derivative.</p>" : "";
    $("work-steps").innerHTML = note + answer.html;
    $("work-graph").innerHTML = answer.svg;
    $("work-node").replaceChildren();
    wireGraph($("work-graph"), (name) => showWorkNode(answer, name));
  });
}

function wireGraph(container, select) {
  for (const node of container.querySelectorAll(".node")) {
    node.addEventListener("click", () => select(node.dataset.node));
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(node.dataset.node); }
    });
  }
}

function mark(container, name) {
  for (const node of container.querySelectorAll(".node")) node.classList.toggle("current", node.dataset.node === name);
}

function showWorkNode(answer, name) {
  mark($("work-graph"), name);
  const panel = $("work-node");
  const node = answer.nodes[name];
  if (!node) {
    panel.innerHTML = `<p><strong>${escapeHtml(name)}</strong>: a variable of the expression.</p>`;
    return;
  }
  const locals = node.locals.map((e) =>
    `<li>${e.mathml} <span class="muted">(${escapeHtml(e.shape)}; ${escapeHtml(e.rule)})</span></li>`).join("");
  panel.innerHTML = `<p>${node.mathml} <span class="muted">typed as <code>${escapeHtml(node.source)}</code>; ` +
    `${escapeHtml(node.kind)}${node.on_path ? "" : "; does not depend on " + escapeHtml(answer.wrt)}</span></p>` +
    (locals ? `<p>Local derivatives:</p><ul>${locals}</ul>` : "");
}

// ---- backward pass: values, tables, and the graph stepped through ----

async function showBackward() {
  await guarded(async () => {
    const answer = await cached("trace", asObject(params(true)));
    showValues(answer.values);
    $("trace-tables").innerHTML = answer.html;
    $("trace-graph").innerHTML = answer.svg;
    const t = answer.trace;
    state.trace = t;
    state.steps = t.forward.map((s) => ["forward", s.name]).concat(t.backward.map((b) => ["backward", b.name]));
    state.step = -1;
    $("trace-node").replaceChildren();
    $("step-label").textContent = `${state.steps.length} steps: the forward pass, then the backward pass`;
    wireGraph($("trace-graph"), selectTraceNode);
  });
}

function showValues(values) {
  const box = $("values");
  box.replaceChildren();
  const title = document.createElement("p");
  title.className = "muted";
  title.textContent = "Values (vectors 1,2,3; matrices row by row 1,2;3,4). Change them and run again.";
  box.append(title);
  for (const [name, value] of Object.entries(values)) {
    const row = document.createElement("label");
    row.className = "value";
    const input = document.createElement("input");
    input.value = value;
    input.dataset.name = name;
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") runTrace(); });
    row.append(`${name} =`, input);
    box.append(row);
  }
}

function runTrace() {
  state.at = {};
  for (const input of $("values").querySelectorAll("input")) state.at[input.dataset.name] = input.value.trim();
  saveAddress();
  showBackward();
}

function selectTraceNode(name) {
  // a node of the graph: its step in the backward pass (where all its numbers are known), else in the forward pass
  const at = (pass) => state.steps.findIndex(([p, n]) => p === pass && n === name);
  const index = at("backward") >= 0 ? at("backward") : at("forward");
  if (index >= 0) { state.step = index; step(0); } else showTraceNode(name);
}

function step(delta) {
  if (!state.steps.length) return;
  state.step = Math.max(0, Math.min(state.steps.length - 1, state.step + delta));
  const [pass, name] = state.steps[state.step];
  $("step-label").textContent = `step ${state.step + 1} of ${state.steps.length}: ${pass} pass, ${name}`;
  showTraceNode(name, pass);
}

function showTraceNode(name, pass) {
  const t = state.trace;
  if (!t) return;
  mark($("trace-graph"), name);
  const rows = [];
  const forward = t.forward.find((s) => s.name === name);
  const variable = t.variables.find((v) => v.name === name);
  if (forward) {
    rows.push(["node", `${name} = ${forward.formula}  (typed ${forward.source})`]);
    rows.push(["value", formatArray(forward.value)]);
  } else if (variable) {
    rows.push(["variable", name], ["value", formatArray(variable.value)]);
  }
  const back = t.backward.find((b) => b.name === name);
  if (back && pass !== "forward") {
    rows.push([`upstream ∂f/∂${name}`, formatArray(back.upstream)]);
    for (const e of back.edges) {
      rows.push([`local ∂${name}/∂${e.operand}`, `${e.local.expression} = ${formatArray(e.local.value)}`]);
      rows.push([`downstream ∂f/∂${e.operand}`, formatArray(e.downstream)]);
    }
  }
  const gradient = t.gradients.find((g) => g.wrt === name);
  if (gradient && pass !== "forward") rows.push(["gradient ∂f/∂" + name, formatArray(gradient.backprop || gradient.value)]);
  const table = document.createElement("table");
  table.className = "node-numbers";
  for (const [key, value] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = key;
    tr.insertCell().textContent = value;
  }
  $("trace-node").replaceChildren(table);
}

function formatNumber(x) {
  if (x === null) return "NaN";
  if (x === 0) return "0";
  return String(Number(x.toPrecision(4)));
}

function formatArray(a) {
  if (!a) return "—";
  const data = a.data;
  if (a.shape.length === 0) return formatNumber(data);
  if (a.shape.length === 1) return "[" + data.map(formatNumber).join(", ") + "]";
  if (a.shape.length === 2) return "[" + data.map((row) => row.map(formatNumber).join(", ")).join("; ") + "]";
  return JSON.stringify(data, (k, v) => (typeof v === "number" ? Number(v.toPrecision(4)) : v));
}

// ---- export ----

async function showExport() {
  await guarded(async () => {
    const derived = state.cache.derive;
    const parts = [];
    let answer = null;
    try {
      const q = params(false);
      if (exportHessian()) q.set("hessian", "1");
      answer = await cached("export", asObject(q));
    } catch (error) {
      answer = null;
    }
    if (answer && answer.codegen) parts.push(exportOptions());
    if (answer && answer.code) {
      const title = `Python code (${TARGETS[answer.target]}${answer.hessian ? ", with the Hessian" : ""})`;
      parts.push(block(title, answer.code, `derivative_${answer.target}.py`));
    }
    if (answer && answer.codegen_error) {
      const note = document.createElement("p");
      note.className = "bad";
      note.textContent = `code generation failed: ${answer.codegen_error}`;
      parts.push(note);
    }
    parts.push(block("Text (chainrule's input language)", derived.result.text, "derivative.txt"));
    parts.push(block("LaTeX", derived.result.latex, "derivative.tex"));
    if (answer && !answer.codegen) {
      const note = document.createElement("p");
      note.className = "muted";
      note.textContent = "NumPy / PyTorch / JAX code generation is not available in this version of chainrule.";
      parts.push(note);
    }
    $("export-body").replaceChildren(...parts);
  });
}

// the exported code computes the Hessian when asked (the box), and by default when the order menu says 2
function exportHessian() {
  return state.hessian ?? $("order").value === "2";
}

function exportOptions() {
  const row = document.createElement("div");
  row.className = "export-options";
  row.append(targetMenu(), hessianBox());
  return row;
}

function hessianBox() {
  const label = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.id = "hessian";
  box.checked = exportHessian();
  box.addEventListener("change", () => { state.hessian = box.checked; saveAddress(); showExport(); });
  label.append(box, " with the Hessian");
  return label;
}

function targetMenu() {
  const label = document.createElement("label");
  const select = document.createElement("select");
  select.id = "target";
  for (const [value, name] of Object.entries(TARGETS)) select.add(new Option(name, value));
  select.value = state.target;
  select.addEventListener("change", () => { state.target = select.value; saveAddress(); showExport(); });
  label.append("Code for ", select);
  return label;
}

function block(title, text, filename) {
  const wrap = document.createElement("div");
  const heading = document.createElement("h4");
  heading.textContent = title;
  const pre = document.createElement("pre");
  pre.className = "code";
  pre.textContent = text;
  const buttons = document.createElement("div");
  buttons.className = "buttons";
  const copyButton = document.createElement("button");
  copyButton.type = "button";
  copyButton.textContent = "Copy";
  copyButton.addEventListener("click", () => copy(text));
  const download = document.createElement("a");
  download.textContent = `Download ${filename}`;
  download.download = filename;
  download.href = "data:text/plain;charset=utf-8," + encodeURIComponent(text);
  buttons.append(copyButton, download);
  wrap.append(heading, pre, buttons);
  return wrap;
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    $("copied").textContent = "copied";
  } catch (error) {
    $("copied").textContent = "copying is not allowed here: select the text instead";
  }
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// ---- start ----

async function loadExamples() {
  try {
    const response = await fetch("/api/examples");
    const { examples } = await response.json();
    for (const [k, e] of examples.entries()) $("examples").add(new Option(`${e.label}:  ${e.expr}`, String(k)));
    $("examples").addEventListener("change", () => {
      const e = examples[Number($("examples").value)];
      if (!e) return;
      $("expr").value = e.expr;
      state.wrt = e.wrt || "";
      state.vars = {};
      for (const item of e.var || []) { const [n, ...rest] = item.split(":"); state.vars[n] = rest.join(":"); }
      state.at = {};
      setSelect("order", String(e.order || 1));
      derive();
    });
  } catch (error) {
    status("the examples could not be loaded");
  }
}

function start() {
  loadAddress();
  $("form").addEventListener("submit", (event) => {
    event.preventDefault();
    const expr = $("expr").value.trim();
    if (state.lastExpr !== undefined && state.lastExpr !== expr) { state.vars = {}; state.at = {}; state.wrt = ""; }
    state.lastExpr = expr;
    derive();
  });
  for (const id of ["order", "layout", "mode"]) $(id).addEventListener("change", derive);
  for (const tab of document.querySelectorAll(".tabs button")) tab.addEventListener("click", () => openView(tab.dataset.view));
  $("copy-text").addEventListener("click", () => state.cache.derive && copy(state.cache.derive.result.text));
  $("copy-latex").addEventListener("click", () => state.cache.derive && copy(state.cache.derive.result.latex));
  $("run-trace").addEventListener("click", runTrace);
  $("random-values").addEventListener("click", () => { state.at = {}; state.seed += 1; saveAddress(); showBackward(); });
  $("step-forward").addEventListener("click", () => step(1));
  $("step-back").addEventListener("click", () => step(-1));
  loadExamples();
  state.lastExpr = $("expr").value.trim();
  openView(state.view);
  if (state.lastExpr) derive();
  $("expr").focus();
}

start();
