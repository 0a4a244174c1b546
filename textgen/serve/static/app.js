// textgen serve's page: edit two sampler chains, stream their continuations of one prompt on
// the same noise (same seed: coupled), colour each character by its surprise under the model,
// and show, for a clicked character, the whole vocabulary's probabilities after every stage.
"use strict";

const state = {
  stages: {},            // registered stage name -> {params, primary, required, plugin, doc}
  chains: { a: [], b: [] },
  runs: { a: null, b: null },  // per panel: {prompt, setting, seed, length, text, inspect}
  vocab: [],
};
const $ = (sel, root = document) => root.querySelector(sel);
const show = (c) => (c === " " ? "\u2423" : c === "\n" ? "\u21b5" : c);

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("#api-key").value;
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function api(path, body) {
  const response = await fetch(path, body === undefined ? { headers: headers() }
    : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) $("#key-box").hidden = false;
    throw new Error((data.error && data.error.message) || `HTTP ${response.status}`);
  }
  return response;
}

function status(message, isError = false) {
  const el = $("#status");
  el.textContent = message;
  el.classList.toggle("error", isError);
}

// --- the chain editor -----------------------------------------------------------------------

function typeOf(schema) {
  if (schema.type) return schema.type;
  const first = (schema.anyOf || []).find((s) => s.type && s.type !== "null");
  return first ? first.type : "string";
}

function parseValue(schema, raw) {
  if (raw === "") return undefined;
  const type = typeOf(schema);
  if (type === "number" || type === "integer") return Number(raw);
  if (type === "boolean") return raw === "true";
  if (type === "array" || type === "object") {
    try { return JSON.parse(raw); } catch (e) { return raw.split(",").map((s) => s.trim()); }
  }
  return raw;
}

function formatValue(value) {
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function newStage(name, params = {}) {
  return { name, params: { ...params } };
}

function renderChain(id) {
  const box = $(`#panel-${id} .chain`);
  box.replaceChildren();
  state.chains[id].forEach((stage, index) => {
    const row = document.createElement("div");
    row.className = "stage";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = stage.name;
    name.title = (state.stages[stage.name] || {}).doc || "";
    row.append(name);
    const params = (state.stages[stage.name] || {}).params || {};
    for (const [key, schema] of Object.entries(params)) {
      const label = document.createElement("label");
      label.textContent = key;
      label.title = schema.description || "";
      const input = document.createElement("input");
      input.dataset.param = key;
      const type = typeOf(schema);
      input.type = type === "number" || type === "integer" ? "number" : "text";
      if (type === "number") input.step = "any";
      input.placeholder = schema.default === undefined ? "required" : formatValue(schema.default);
      if (stage.params[key] !== undefined) input.value = formatValue(stage.params[key]);
      input.addEventListener("input", () => {
        const value = parseValue(schema, input.value);
        if (value === undefined) delete stage.params[key]; else stage.params[key] = value;
      });
      label.append(input);
      row.append(label);
    }
    for (const [text, title, move] of [["\u2191", "move up", -1], ["\u2193", "move down", 1],
                                       ["\u2715", "remove", 0]]) {
      const button = document.createElement("button");
      button.textContent = text;
      button.title = title;
      button.addEventListener("click", () => {
        const chain = state.chains[id];
        if (move === 0) chain.splice(index, 1);
        else if (chain[index + move]) [chain[index], chain[index + move]] = [chain[index + move], chain[index]];
        renderChain(id);
      });
      row.append(button);
    }
    box.append(row);
  });
}

function setting(id) {
  // The chain in spec syntax: a name, {name: value} for the primary parameter, or {name: {...}}.
  return state.chains[id].map(({ name, params }) => {
    const keys = Object.keys(params);
    if (keys.length === 0) return name;
    const primary = (state.stages[name] || {}).primary;
    if (keys.length === 1 && keys[0] === primary) return { [name]: params[primary] };
    return { [name]: params };
  });
}

function yamlScalar(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(yamlScalar).join(", ")}]`;
  if (value && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${k}: ${yamlScalar(v)}`).join(", ")}}`;
  }
  return String(value);
}

function toYaml(id) {
  const lines = setting(id).map((item) => {
    if (typeof item === "string") return `  - ${item}`;
    const [[name, value]] = Object.entries(item);
    return `  - ${name}: ${yamlScalar(value)}`;
  });
  return `samplers:\n${lines.join("\n")}\n`;
}

// --- generation -----------------------------------------------------------------------------

function surpriseColour(bits) {
  const alpha = Math.min(Math.max(bits, 0) / 8, 1) * 0.85;
  return `rgba(230, 90, 20, ${alpha.toFixed(3)})`;
}

async function stream(id, request) {
  const textBox = $(`#panel-${id} .text`);
  textBox.replaceChildren();
  const prompt = document.createElement("span");
  prompt.className = "prompt";
  prompt.textContent = request.prompt;
  textBox.append(prompt);
  const response = await api("/v1/completions", request);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut).replace(/^data: /, "");
      buffer = buffer.slice(cut + 2);
      if (event === "[DONE]") return text;
      const chunk = JSON.parse(event);
      if (chunk.error) throw new Error(chunk.error.message);
      const choice = chunk.choices[0];
      if (!choice.text) continue;
      const span = document.createElement("span");
      const bits = -choice.logprobs.token_logprobs[0] / Math.LN2;
      span.className = "ch";
      span.dataset.step = String(text.length);
      span.textContent = choice.text;
      span.title = `${bits.toFixed(2)} bits`;
      span.style.background = surpriseColour(bits);
      span.addEventListener("click", () => inspectStep(id, Number(span.dataset.step)));
      textBox.append(span);
      text += choice.text;
    }
  }
  return text;
}

async function generate() {
  const panels = $("#compare").checked ? ["a", "b"] : ["a"];
  const base = {
    prompt: $("#prompt").value, seed: Number($("#seed").value), max_tokens: Number($("#length").value),
  };
  $("#generate").disabled = true;
  $("#detail").hidden = true;
  status("Generating (a new chain or shape compiles first: a few seconds)...");
  try {
    const texts = await Promise.all(panels.map(async (id) => {
      const request = { ...base, samplers: setting(id), stream: true, logprobs: 0 };
      state.runs[id] = { ...base, samplers: request.samplers, inspect: null };
      const text = await stream(id, request);
      state.runs[id].text = text;
      return text;
    }));
    if (texts.length === 2) markParting(texts);
    status(texts.length === 2 ? partingNote(texts) : "Done. Click a character.");
  } catch (err) {
    status(err.message, true);
  } finally {
    $("#generate").disabled = false;
  }
}

function firstDifference([a, b]) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function markParting(texts) {
  const at = firstDifference(texts);
  if (at < 0) return;
  for (const id of ["a", "b"]) {
    const span = $(`#panel-${id} .ch[data-step="${at}"]`);
    if (span) span.classList.add("parted");
  }
}

function partingNote(texts) {
  const at = firstDifference(texts);
  return at < 0 ? "Both chains drew the same text on this noise."
    : `Same noise, different chains: they part at character ${at + 1} (underlined). Click a character.`;
}

// --- the per-stage view of one step ---------------------------------------------------------

async function inspectStep(id, step) {
  const run = state.runs[id];
  if (!run) return;
  document.querySelectorAll(".ch.selected").forEach((el) => el.classList.remove("selected"));
  const span = $(`#panel-${id} .ch[data-step="${step}"]`);
  if (span) span.classList.add("selected");
  try {
    if (!run.inspect) {
      status("Recording every stage's distribution...");
      const response = await api("/v1/inspect", {
        prompt: run.prompt, samplers: run.samplers, seed: run.seed, max_tokens: run.max_tokens,
      });
      run.inspect = await response.json();
      status("Each row: the probabilities after that stage; the drawn character in orange.");
    }
    drawStep(id, run.inspect, step);
  } catch (err) {
    status(err.message, true);
  }
}

function drawStep(id, data, step) {
  const s = data.steps[step];
  const drawn = data.vocab.indexOf(s.char);
  $("#detail").hidden = false;
  $("#detail-title").textContent =
    `Chain ${id.toUpperCase()}, character ${step + 1}: drew ${JSON.stringify(s.char)} (${data.sampler})`;
  $("#detail-stats").textContent =
    `model entropy ${s.model_entropy.toFixed(2)} bits \u00b7 sampling entropy ` +
    `${s.sampling_entropy.toFixed(2)} bits \u00b7 p(drawn) under the model ` +
    `${s.model[drawn].toFixed(3)}, after the chain ${s.stages[s.stages.length - 1].probs[drawn].toFixed(3)}`;
  const rows = [{ stage: "model (temperature 1)", probs: s.model }, ...s.stages];
  const box = $("#bars");
  box.replaceChildren();
  for (const row of rows) {
    const wrap = document.createElement("div");
    wrap.className = "stage-bars";
    const title = document.createElement("h3");
    title.textContent = row.stage;
    const bars = document.createElement("div");
    bars.className = "bars";
    const labels = document.createElement("div");
    labels.className = "labels";
    row.probs.forEach((p, i) => {
      const bar = document.createElement("div");
      bar.className = i === drawn ? "bar drawn" : "bar";
      bar.style.height = `${p > 0 ? Math.max(p * 100, 0.8) : 0}%`;
      bar.title = `${JSON.stringify(data.vocab[i])}: p = ${p.toFixed(4)}`;
      bars.append(bar);
      const label = document.createElement("span");
      label.textContent = show(data.vocab[i]);
      if (i === drawn) label.className = "drawn";
      labels.append(label);
    });
    wrap.append(title, bars, labels);
    box.append(wrap);
  }
}

// --- start ----------------------------------------------------------------------------------

// One panel per chain, "a" and "b", from the page's template.
function makePanels() {
  const template = $("#panel-template");
  for (const id of ["a", "b"]) {
    const panel = template.content.firstElementChild.cloneNode(true);
    panel.id = `panel-${id}`;
    $("h2", panel).textContent = `Chain ${id.toUpperCase()}`;
    $("#panels").append(panel);
  }
}

async function init() {
  makePanels();
  try {
    const models = await (await api("/v1/models")).json();
    $("#model-id").textContent = models.data[0].id;
    const stages = await (await api("/v1/samplers")).json();
    for (const stage of stages.data) state.stages[stage.name] = stage;
  } catch (err) {
    status(`${err.message} (enter the API key, then reload)`, true);
    return;
  }
  for (const id of ["a", "b"]) {
    const select = $(`#panel-${id} .add-stage`);
    for (const [name, stage] of Object.entries(state.stages)) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = stage.builtin ? name : `${name} (${stage.dist})`;
      select.append(option);
    }
    $(`#panel-${id} .add`).addEventListener("click", () => {
      const name = select.value;
      const primary = state.stages[name].primary;
      const params = {};
      const schema = state.stages[name].params[primary];
      if (primary && schema && schema.default === undefined) params[primary] = typeOf(schema) === "integer" ? 10 : 0.5;
      state.chains[id].push(newStage(name, params));
      renderChain(id);
    });
    $(`#panel-${id} .yaml`).addEventListener("click", () => {
      const yaml = toYaml(id);
      const out = $(`#panel-${id} .yaml-out`);
      out.textContent = yaml;
      out.hidden = false;
      if (navigator.clipboard) navigator.clipboard.writeText(yaml).catch(() => {});
    });
  }
  state.chains.a = [newStage("temperature", { temperature: 0.8 })];
  state.chains.b = state.stages.top_k
    ? [newStage("top_k", { k: 3 }), newStage("temperature", { temperature: 0.8 })]
    : [newStage("greedy")];
  renderChain("a");
  renderChain("b");
  $("#compare").addEventListener("change", () => {
    $("#panel-b").hidden = !$("#compare").checked;
    $("#panels").classList.toggle("single", !$("#compare").checked);
  });
  $("#generate").addEventListener("click", generate);
  status("Ready.");
}

init();
