// pycrox view: a small page on the JSON/PNG endpoints of `pycrox view` (no build step, no libraries).
"use strict";

const $ = (id) => document.getElementById(id);
const view = { tree: null, signal: null, spectrum: null, pattern: null, busy: 0 };
window.pycroxView = view;

function busy(delta) {
  view.busy += delta;
  document.body.dataset.state = view.busy > 0 ? "loading" : "ready";
}

async function getJSON(url) {
  busy(1);
  try {
    const response = await fetch(url);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  } finally { busy(-1); }
}

async function getPNG(url, img) {
  busy(1);
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error((await response.json()).error || response.statusText);
    const blob = await response.blob();
    const loaded = new Promise((resolve, reject) => { img.onload = resolve; img.onerror = reject; });
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
    await loaded;
    return { min: response.headers.get("X-Value-Min"), max: response.headers.get("X-Value-Max"),
             what: decodeURIComponent(response.headers.get("X-Picture") || "") };
  } finally { busy(-1); }
}

function showError(err) { $("error").textContent = err ? String(err.message || err) : ""; }

async function updateRead() {
  const read = await getJSON("/api/read");
  $("read").textContent = `read: ${read.chunks} chunks, ${formatBytes(read.bytes)}`;
  $("read").dataset.chunks = read.chunks;
}

function formatBytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function query(params) {
  return new URLSearchParams({ signal: view.signal.path, ...params }).toString();
}

async function loadTree() {
  view.tree = await getJSON("/api/tree");
  $("title").textContent = `pycrox view: ${view.tree.name}`;
  document.title = `pycrox view: ${view.tree.name}`;
  const nav = $("tree");
  nav.innerHTML = "";
  for (const s of view.tree.signals) {
    const button = document.createElement("button");
    button.dataset.path = s.path;
    button.textContent = s.path;
    const info = document.createElement("small");
    info.textContent = `${s.kind}: ` + s.dims.map((d) => `${d.name} ${d.size}${d.units ? " [" + d.units + "]" : ""}`).join(" × ");
    button.appendChild(info);
    button.addEventListener("click", () => select(s.path).catch(showError));
    nav.appendChild(button);
  }
  const first = view.tree.signals.find((s) => s.kind !== "other") || view.tree.signals[0];
  if (first) await select(first.path);
}

async function select(path) {
  showError(null);
  const s = view.tree.signals.find((t) => t.path === path);
  view.signal = s;
  view.spectrum = null;
  view.pattern = null;
  for (const b of $("tree").children) b.classList.toggle("active", b.dataset.path === path);
  $("signal-title").textContent = `${s.path} (${s.kind})`;
  $("dims").textContent = s.dims.map((d) => `${d.name}: ${d.size}${d.units ? " [" + d.units + "]" : ""} ${d.type}`).join(" · ")
    + ` · ${s.dtype} · ${s.label}`;
  $("attrs").textContent = JSON.stringify(s.attrs, null, 1);
  $("controls").innerHTML = "";
  $("picture-box").hidden = !["image", "stack", "spectrum_image", "4d"].includes(s.kind);
  $("second-box").hidden = true;
  $("values-box").hidden = true;
  $("marker").hidden = true;
  $("pattern").hidden = true;
  $("spectrum").hidden = true;
  if (s.kind === "stack") {
    const frames = s.dims.find((d) => d.name === s.signal[0]);
    addControl(`${frames.name}`, "frame", 0, frames.size - 1, 0, () => showPicture());
  } else if (s.kind === "spectrum_image") {
    const channels = s.dims.find((d) => d.name === s.signal[0]);
    addControl(`${channels.name} from`, "start", 0, channels.size - 1, s.window[0], () => showPicture());
    addControl("to", "stop", 1, channels.size, s.window[1], () => showPicture());
  }
  drawScaleBar(s);
  if (s.kind === "line") {
    await showLine(await getJSON(`/api/spectrum?${query({})}`));
  } else if (!$("picture-box").hidden) {
    await showPicture();
  } else {
    showError(`${s.path} is shown as metadata only (${s.kind})`);
  }
  await updateRead();
}

function addControl(text, name, min, max, value, onchange) {
  const label = document.createElement("label");
  label.textContent = text + " ";
  const input = document.createElement("input");
  input.type = name === "frame" ? "range" : "number";
  Object.assign(input, { id: `control-${name}`, min, max, value });
  const out = document.createElement("output");
  out.textContent = name === "frame" ? ` ${value}` : "";
  input.addEventListener("change", () => { out.textContent = name === "frame" ? ` ${input.value}` : ""; onchange().catch(showError); });
  label.append(input, out);
  $("controls").appendChild(label);
}

function controlValues() {
  const values = {};
  for (const input of $("controls").querySelectorAll("input")) values[input.id.replace("control-", "")] = input.value;
  return values;
}

async function showPicture() {
  const picture = await getPNG(`/api/image?${query(controlValues())}`, $("picture"));
  $("picture-caption").textContent = `${picture.what}; grey ${Number(picture.min).toPrecision(4)} … ${Number(picture.max).toPrecision(4)}`;
  drawScaleBar(view.signal);
  await updateRead();
}

function drawScaleBar(s) {
  const bar = s.scale_bar;
  $("scalebar").hidden = !bar;
  if (!bar) return;
  const width = $("picture").clientWidth || 400;
  $("bar").style.width = `${(bar.pixels / bar.of) * width}px`;
  $("bar-text").textContent = `${bar.length} ${bar.units}`;
}

function pixelOf(event, img) {
  const rect = img.getBoundingClientRect();
  const j = Math.floor(((event.clientX - rect.left) / rect.width) * img.naturalWidth);
  const i = Math.floor(((event.clientY - rect.top) / rect.height) * img.naturalHeight);
  return { i: Math.min(Math.max(i, 0), img.naturalHeight - 1), j: Math.min(Math.max(j, 0), img.naturalWidth - 1) };
}

function mark(i, j) {
  const img = $("picture");
  const sx = img.clientWidth / img.naturalWidth, sy = img.clientHeight / img.naturalHeight;
  Object.assign($("marker").style, { left: `${j * sx}px`, top: `${i * sy}px`, width: `${Math.max(sx, 3)}px`, height: `${Math.max(sy, 3)}px` });
  $("marker").hidden = false;
}

async function clickPixel(i, j) {
  const s = view.signal;
  if (s.kind === "spectrum_image") {
    mark(i, j);
    await showLine(await getJSON(`/api/spectrum?${query({ i, j })}`));
  } else if (s.kind === "4d") {
    mark(i, j);
    $("second-box").hidden = false;
    $("spectrum").hidden = true;
    const pattern = $("pattern");
    pattern.hidden = false;
    const info = await getPNG(`/api/image?${query({ i, j })}`, pattern);
    view.pattern = { i, j, ...info };
    $("second-caption").textContent = info.what;
  }
  await updateRead();
}

$("picture").addEventListener("click", (event) => {
  const { i, j } = pixelOf(event, $("picture"));
  clickPixel(i, j).catch(showError);
});

async function showLine(line) {
  view.spectrum = line;
  $("second-box").hidden = false;
  $("spectrum").hidden = false;
  $("values-box").hidden = false;
  const where = line.i === undefined ? "" : ` at (${line.i}, ${line.j})`;
  $("second-caption").textContent = `${line.ylabel}${where} against ${line.xlabel}`;
  $("values").textContent = line.x.map((x, k) => `${x}\t${line.y[k]}`).join("\n");
  plotLine($("spectrum"), line);
}

function plotLine(canvas, line) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 40;
  ctx.clearRect(0, 0, w, h);
  const ys = line.y.filter((v) => v !== null);
  const xmin = Math.min(...line.x), xmax = Math.max(...line.x);
  const ymin = Math.min(...ys), ymax = Math.max(...ys);
  const sx = (x) => pad + ((x - xmin) / (xmax - xmin || 1)) * (w - 2 * pad);
  const sy = (y) => h - pad - ((y - ymin) / (ymax - ymin || 1)) * (h - 2 * pad);
  ctx.strokeStyle = "#999";
  ctx.strokeRect(pad, pad, w - 2 * pad, h - 2 * pad);
  ctx.fillStyle = "#333";
  ctx.font = "11px sans-serif";
  ctx.fillText(line.xlabel, w / 2 - 30, h - 8);
  ctx.fillText(`${xmin.toPrecision(4)}`, pad, h - pad + 14);
  ctx.fillText(`${xmax.toPrecision(4)}`, w - pad - 30, h - pad + 14);
  ctx.fillText(`${ymax.toPrecision(4)}`, 2, pad);
  ctx.fillText(`${ymin.toPrecision(4)}`, 2, h - pad);
  ctx.strokeStyle = "#1f5fbf";
  ctx.beginPath();
  line.y.forEach((y, k) => {
    if (y === null) return;
    if (k === 0) ctx.moveTo(sx(line.x[k]), sy(y)); else ctx.lineTo(sx(line.x[k]), sy(y));
  });
  ctx.stroke();
}

loadTree().catch(showError);
