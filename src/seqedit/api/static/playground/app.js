// The seqedit playground: one page on the public API (uploads, plan, submit, poll, history) with the
// session cookie. Every request goes to this server only (relative URLs); the CSP forbids others.
import { makeZip } from "./zip.js";

const MODEL = "bytedance/seedream-v4/edit-sequential";
const PLAN_DEBOUNCE_MS = 400;
const POLL_MS = 500;
const HISTORY_PAGE_SIZE = 20;
const FIELDS = ["images", "prompt", "max_images", "size", "seed", "enable_base64_output", "enable_sync_mode"];

const EMPTY_PLAN = "Add a reference and a prompt: the panels, and what the engine will do with each clause, appear here as you type.";
const $ = (id) => document.getElementById(id);
const state = {
  config: null,
  refs: [], // {id, name, preview, url|null, uploading, error}
  planTimer: null,
  planSeq: 0,
  lastPlan: null,
  running: null, // prediction id being polled
  historyPage: 1,
  result: null, // the prediction shown in the gallery
};

// ------------------------------------------------------------------ HTTP

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || body.error)) || `HTTP ${status}`);
    this.status = status;
    this.field = body && body.field;
    this.limit = body && body.limit;
  }
}

async function api(method, path, body, { form } = {}) {
  const headers = { "x-seqedit-playground": "1" };
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && path !== "/playground/session") signedOut(err.message);
    throw err;
  }
  return data ? data.data : null;
}

function signedOut(message) {
  // the session expired or its key was revoked: back to the sign-in screen, saying why
  $("app").hidden = true;
  $("account").hidden = true;
  $("topnav").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
}

// ------------------------------------------------------------------ field errors

function fieldOf(name) {
  if (!name) return "form";
  const base = String(name).replace(/\[\d+\]$/, "").split(/[.:\s]/)[0];
  if (base === "file" || base === "images") return "images";
  if (base === "width" || base === "height") return "size";
  return FIELDS.includes(base) ? base : "form";
}

function showError(err, fallback = "form") {
  const field = err instanceof ApiError && err.field ? fieldOf(err.field) : fallback;
  const el = $(`error-${field}`) || $("error-form");
  el.textContent = err.message;
  el.closest(".field")?.classList.add("invalid");
  return field;
}

function clearErrors() {
  for (const f of [...FIELDS, "form"]) {
    const el = $(`error-${f}`);
    if (el) {
      el.textContent = "";
      el.closest(".field")?.classList.remove("invalid");
    }
  }
}

// ------------------------------------------------------------------ sign-in

async function signIn() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token) {
    try {
      await api("POST", "/playground/session", { token });
    } catch (err) {
      $("signin-error").textContent = err.message;
    } finally {
      params.delete("token");
      const rest = params.toString();
      history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
    }
  }
  try {
    return await api("GET", "/playground/session");
  } catch (err) {
    if (!$("signin-error").textContent && err.status !== 401) $("signin-error").textContent = err.message;
    return null;
  }
}

// ------------------------------------------------------------------ form values

function sizeValue() {
  const v = $("size").value;
  if (v === "auto") return null;
  if (v === "custom") return `${$("width").value.trim()}*${$("height").value.trim()}`;
  return v;
}

function seedValue() {
  const raw = $("seed").value.trim();
  if (raw === "") return null;
  return Number(raw);
}

function countValue() {
  return Number($("max_images").value) || 1;
}

function body() {
  const out = {
    prompt: $("prompt").value,
    images: state.refs.filter((r) => r.url).map((r) => r.url),
    max_images: countValue(),
  };
  const size = sizeValue();
  if (size) out.size = size;
  const seed = seedValue();
  if (seed !== null) out.seed = seed;
  return out;
}

function price(n, unit) {
  return `$${(Math.round(n * unit * 1000) / 1000).toFixed(3)}`;
}

function updatePrice(fromPlan) {
  const unit = state.config.unit_price;
  const n = fromPlan ? fromPlan.max_images : countValue();
  const total = fromPlan ? fromPlan.base_price : n * unit;
  $("price").textContent = price(1, total);
  $("price-note").textContent = `${n} × $${unit}`;
}

// ------------------------------------------------------------------ references

function renderRefs() {
  const list = $("thumbs");
  list.replaceChildren();
  state.refs.forEach((ref, i) => {
    const li = document.createElement("li");
    li.className = "thumb" + (ref.uploading ? " uploading" : "") + (ref.error ? " failed" : "");
    const img = document.createElement("img");
    img.src = ref.preview;
    img.alt = `Reference ${i + 1}: ${ref.name}`;
    const badge = document.createElement("span");
    badge.className = "thumb-index";
    badge.textContent = String(i + 1);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "thumb-remove";
    remove.setAttribute("aria-label", `Remove reference ${i + 1} (${ref.name})`);
    remove.textContent = "×";
    remove.addEventListener("click", () => {
      state.refs = state.refs.filter((r) => r !== ref);
      if (ref.preview.startsWith("blob:")) URL.revokeObjectURL(ref.preview);
      renderRefs();
      schedulePlan();
      $("drop-button").focus();
    });
    li.append(img, badge, remove);
    if (ref.uploading) {
      const s = document.createElement("span");
      s.className = "thumb-state";
      s.textContent = "uploading…";
      li.append(s);
    }
    list.append(li);
  });
  $("images-count").textContent = `${state.refs.length} / ${state.config.limits.max_refs}`;
}

async function addFiles(files) {
  clearErrors();
  const max = state.config.limits.max_refs;
  const room = max - state.refs.length;
  const chosen = [...files].slice(0, Math.max(room, 0));
  if (files.length > chosen.length) {
    $("error-images").textContent = `images: at most ${max} references (${files.length - chosen.length} not added)`;
  }
  const uploads = chosen.map(async (file) => {
    const ref = { name: file.name, preview: URL.createObjectURL(file), url: null, uploading: true, error: null };
    state.refs.push(ref);
    renderRefs();
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      const up = await api("POST", "/api/v3/media/upload/binary", undefined, { form });
      ref.url = up.download_url;
    } catch (err) {
      ref.error = err.message;
      state.refs = state.refs.filter((r) => r !== ref);
      showError(err, "images");
    } finally {
      ref.uploading = false;
      renderRefs();
    }
  });
  await Promise.all(uploads);
  schedulePlan();
}

function setupDrop() {
  const zone = $("dropzone");
  const input = $("file-input");
  $("drop-button").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    addFiles(input.files);
    input.value = "";
  });
  for (const ev of ["dragenter", "dragover"]) {
    zone.addEventListener(ev, (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const ev of ["dragleave", "drop"]) {
    zone.addEventListener(ev, (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
    });
  }
  zone.addEventListener("drop", (e) => {
    const files = [...(e.dataTransfer?.files || [])].filter((f) => f.type.startsWith("image/") || f.type === "");
    if (files.length) addFiles(files);
  });
}

// ------------------------------------------------------------------ the plan preview

function schedulePlan() {
  clearTimeout(state.planTimer);
  updatePrice(null);
  state.planTimer = setTimeout(runPlan, PLAN_DEBOUNCE_MS);
}

function verdictChip(verdict) {
  const chip = document.createElement("span");
  chip.className = `verdict ${verdict}`;
  chip.textContent = verdict;
  return chip;
}

function clauseItem(v) {
  const li = document.createElement("li");
  li.className = "clause";
  const op = document.createElement("span");
  op.className = "op";
  op.textContent = v.operation;
  const text = document.createElement("span");
  text.className = "clause-text";
  text.textContent = v.clause;
  li.append(verdictChip(v.verdict), op, text);
  if (v.note) {
    const note = document.createElement("span");
    note.className = "note";
    note.textContent = v.note;
    li.append(note);
  }
  return li;
}

function renderPlan(plan) {
  const panels = $("plan-panels");
  panels.replaceChildren();
  $("plan-empty").hidden = !!plan;
  $("plan-empty").textContent = EMPTY_PLAN;
  const refusal = $("plan-refusal");
  const warnings = $("plan-warnings");
  warnings.replaceChildren();
  if (!plan) {
    refusal.hidden = true;
    $("plan-state").textContent = "waiting for input";
    $("plan-state").className = "plan-state";
    return;
  }
  const shared = plan.verdicts.filter((v) => v.panel === null);
  if (shared.length || plan.shared) {
    const li = document.createElement("li");
    li.className = "panel shared";
    const head = document.createElement("div");
    head.className = "panel-head";
    head.textContent = "Every panel";
    const text = document.createElement("p");
    text.className = "panel-text";
    text.textContent = plan.shared || "";
    const ul = document.createElement("ul");
    ul.className = "clauses";
    shared.forEach((v) => ul.append(clauseItem(v)));
    li.append(head, text, ul);
    panels.append(li);
  }
  for (const p of plan.panels) {
    const li = document.createElement("li");
    li.className = "panel";
    const head = document.createElement("div");
    head.className = "panel-head";
    head.textContent = `Panel ${p.index}`;
    const text = document.createElement("p");
    text.className = "panel-text";
    text.textContent = p.text || "(the shared instruction)";
    const ul = document.createElement("ul");
    ul.className = "clauses";
    plan.verdicts.filter((v) => v.panel === p.index).forEach((v) => ul.append(clauseItem(v)));
    li.append(head, text, ul);
    panels.append(li);
  }
  if (plan.refusal) {
    refusal.hidden = false;
    refusal.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = `The ${plan.engine} engine cannot do this. `;
    refusal.append(strong, document.createTextNode(plan.refusal));
  } else refusal.hidden = true;
  for (const w of plan.warnings) {
    const li = document.createElement("li");
    li.textContent = w;
    warnings.append(li);
  }
  const st = $("plan-state");
  st.textContent = plan.refusal
    ? "refused"
    : `${plan.count} panel${plan.count === 1 ? "" : "s"} · ${plan.size ? plan.size.replace("*", "×") : "size from the first reference"} · ${plan.engine}`;
  st.className = "plan-state " + (plan.refusal ? "bad" : "good");
  // the count hint: the prompt states another count than max_images
  const hint = $("count-hint");
  if (plan.declared_count && plan.declared_count !== countValue()) {
    hint.hidden = false;
    hint.replaceChildren(
      document.createTextNode(`Your prompt asks for ${plan.declared_count} images; max_images is ${countValue()}. `),
    );
    const use = document.createElement("button");
    use.type = "button";
    use.className = "link";
    use.textContent = `Use ${plan.declared_count}`;
    use.addEventListener("click", () => setCount(plan.declared_count));
    hint.append(use);
  } else hint.hidden = true;
  updatePrice(plan.price);
}

async function runPlan() {
  const seq = ++state.planSeq;
  const b = body();
  if (!b.images.length || !b.prompt.trim()) {
    state.lastPlan = null;
    renderPlan(null);
    $("count-hint").hidden = true;
    return;
  }
  $("plan-state").textContent = "planning…";
  try {
    const plan = await api("POST", `/api/v3/${MODEL}/plan`, b);
    if (seq !== state.planSeq) return;
    clearErrors();
    state.lastPlan = plan;
    renderPlan(plan);
  } catch (err) {
    if (seq !== state.planSeq) return;
    clearErrors();
    renderPlan(null);
    $("plan-empty").textContent = `The plan appears once this is fixed: ${err.message}`;
    $("plan-state").textContent = "fix the highlighted field";
    $("plan-state").className = "plan-state bad";
    showError(err);
  }
}

function setCount(n) {
  $("max_images").value = String(n);
  $("max_images_range").value = String(n);
  schedulePlan();
}

// ------------------------------------------------------------------ run and results

function setStatus(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.className = `status ${kind}`;
}

function renderProgress(done, total, fraction = null) {
  $("progress").hidden = false;
  const share = fraction ?? (total ? done / total : 0); // the engine's own 0-1 estimate when it gives one
  $("progress-fill").style.width = `${Math.round(100 * Math.max(share, total ? done / total : 0))}%`;
  const cells = $("progress-cells");
  if (cells.children.length !== total) {
    cells.replaceChildren();
    for (let i = 1; i <= total; i++) {
      const li = document.createElement("li");
      li.textContent = String(i);
      cells.append(li);
    }
  }
  [...cells.children].forEach((li, i) => {
    li.className = i < done ? "done" : i === done ? "active" : "";
    li.setAttribute("aria-label", `Panel ${i + 1}: ${i < done ? "done" : i === done ? "rendering" : "queued"}`);
  });
}

function mimeOf(b64) {
  if (b64.startsWith("iVBOR")) return "image/png";
  if (b64.startsWith("UklGR")) return "image/webp";
  return "image/jpeg";
}

function outputSrc(out) {
  return /^https?:\/\//.test(out) ? out : `data:${mimeOf(out)};base64,${out}`; // base64 may start with "/"
}

function extOf(src) {
  const m = /^data:image\/(\w+)/.exec(src) || /\.(jpe?g|png|webp)(\?|$)/i.exec(src);
  const ext = m ? m[1].toLowerCase() : "jpg";
  return ext === "jpeg" ? "jpg" : ext;
}

// A small badge per panel from the prediction's `consistency` field (the figures, the guard's re-renders);
// its title lists every figure with its threshold, or why it does not apply.
function consistencyBadge(report, index) {
  const panel = (report?.panels || []).find((p) => p.index === index);
  if (!panel) return null;
  const figures = Object.entries(panel.figures || {});
  const measured = figures.filter(([, f]) => f.value !== null);
  const failing = measured.filter(([, f]) => !f.passed).map(([name]) => name);
  const retries = (report.retries || []).filter((r) => r.panel === index).length;
  const badge = document.createElement("span");
  badge.className = `badge ${failing.length ? "warn" : measured.length ? "ok" : "none"}`;
  badge.textContent = failing.length ? `✗ ${failing.join(", ")}` : measured.length ? "✓ consistent" : "not measured";
  if (retries) badge.textContent += ` · re-rendered ×${retries}`;
  badge.title = figures
    .map(([name, f]) =>
      f.value === null
        ? `${name}: n/a (${f.reason})`
        : `${name}: ${f.value.toFixed(2)} ${f.passed ? "passes" : "fails"} (${f.better === "lower" ? "≤" : "≥"} ${f.threshold})`,
    )
    .join("\n");
  badge.setAttribute("aria-label", `Consistency of panel ${index}: ${badge.textContent}`);
  return badge;
}

function showResult(pred) {
  state.result = pred;
  const gallery = $("gallery");
  gallery.replaceChildren();
  $("empty-output").hidden = pred.outputs.length > 0;
  pred.outputs.forEach((out, i) => {
    const src = outputSrc(out);
    const li = document.createElement("li");
    li.className = "result";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "result-open";
    open.setAttribute("aria-label", `View panel ${i + 1} full size`);
    const img = document.createElement("img");
    img.src = src;
    img.alt = `Panel ${i + 1}`;
    img.loading = "lazy";
    open.append(img);
    open.addEventListener("click", () => openViewer(src, i + 1, pred.id));
    const bar = document.createElement("div");
    bar.className = "result-bar";
    const label = document.createElement("span");
    label.textContent = `Panel ${i + 1}`;
    const dl = document.createElement("a");
    dl.className = "button secondary small";
    dl.href = src;
    dl.download = `${pred.id}-${i + 1}.${extOf(src)}`;
    dl.textContent = "Download";
    dl.setAttribute("aria-label", `Download panel ${i + 1}`);
    const badge = consistencyBadge(pred.consistency, i + 1);
    bar.append(label, ...(badge ? [badge] : []), dl);
    li.append(open, bar);
    gallery.append(li);
  });
  const meta = $("result-meta");
  meta.hidden = pred.outputs.length === 0;
  const seconds = pred.executionTime ? ` · ${(pred.executionTime / 1000).toFixed(1)} s` : "";
  const cost = pred.cost !== undefined ? ` · $${Number(pred.cost).toFixed(3)}` : "";
  $("result-info").textContent = `${pred.outputs.length} image${pred.outputs.length === 1 ? "" : "s"} · seed ${pred.seed ?? "?"}${cost}${seconds}`;
  const err = $("run-error");
  err.hidden = !(pred.status === "failed" || pred.status === "cancelled");
  err.textContent = err.hidden ? "" : `${pred.status}${pred.code ? ` (${pred.code})` : ""}: ${pred.error}`;
  const warnings = $("run-warnings");
  warnings.replaceChildren();
  for (const w of pred.warnings || []) {
    const li = document.createElement("li");
    li.textContent = w;
    warnings.append(li);
  }
  warnings.hidden = !warnings.children.length;
}

function clearRun() {
  $("gallery").replaceChildren();
  $("result-meta").hidden = true;
  $("run-error").hidden = true;
  $("run-warnings").hidden = true;
  $("empty-output").hidden = true;
  $("progress-cells").replaceChildren();
}

async function generate(event) {
  event?.preventDefault();
  if (state.running) return;
  clearErrors();
  if (state.refs.some((r) => r.uploading)) {
    $("error-images").textContent = "images: wait for the uploads to finish";
    return;
  }
  const b = body();
  b.enable_base64_output = $("base64").checked;
  b.enable_sync_mode = $("sync").checked;
  b.refuse_unsupported = true; // an edit the engine cannot do is a 400 beside the prompt, not a failed task
  clearRun();
  $("generate").disabled = true;
  setStatus(b.enable_sync_mode ? "Running (sync mode: waiting for the whole set)…" : "Submitting…", "busy");
  renderProgress(0, b.max_images);
  try {
    let pred = await api("POST", `/api/v3/${MODEL}`, b);
    if (!["completed", "failed", "cancelled"].includes(pred.status)) {
      state.running = pred.id;
      $("cancel").hidden = false;
      pred = await poll(pred.id);
    }
    finish(pred);
  } catch (err) {
    $("progress").hidden = true;
    $("empty-output").hidden = false;
    setStatus("Idle");
    showError(err);
  } finally {
    state.running = null;
    $("cancel").hidden = true;
    $("generate").disabled = false;
  }
}

async function poll(id) {
  for (;;) {
    const pred = await api("GET", `/api/v3/predictions/${id}/result`);
    const total = pred.progress?.total || countValue();
    const done = pred.progress?.done || 0;
    renderProgress(pred.status === "completed" ? total : done, total, pred.progress?.fraction ?? null);
    if (["completed", "failed", "cancelled"].includes(pred.status)) return pred;
    setStatus(pred.status === "created" ? "Queued…" : `Processing · panel ${Math.min(done + 1, total)} of ${total}`, "busy");
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function finish(pred) {
  const total = pred.outputs.length || pred.progress?.total || 0;
  if (pred.status === "completed") {
    renderProgress(total, total);
    setStatus(`Completed · ${pred.outputs.length} image${pred.outputs.length === 1 ? "" : "s"}`, "good");
  } else if (pred.status === "processing") {
    setStatus("Still processing (sync mode timed out): reopen it from History", "busy");
  } else {
    $("progress").hidden = true;
    setStatus(pred.status === "cancelled" ? "Cancelled" : "Failed", "bad");
  }
  showResult(pred);
  loadHistory();
}

async function downloadZip() {
  const pred = state.result;
  if (!pred) return;
  const button = $("download-zip");
  button.disabled = true;
  button.textContent = "Building zip…";
  try {
    const files = [];
    for (const [i, out] of pred.outputs.entries()) {
      const src = outputSrc(out);
      const res = await fetch(src);
      if (!res.ok) throw new Error(`panel ${i + 1}: HTTP ${res.status}`);
      files.push({ name: `${pred.id}-${i + 1}.${extOf(src)}`, data: new Uint8Array(await res.arrayBuffer()) });
    }
    const url = URL.createObjectURL(makeZip(files));
    const a = document.createElement("a");
    a.href = url;
    a.download = `seqedit-${pred.id}.zip`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) {
    $("run-error").hidden = false;
    $("run-error").textContent = `zip: ${err.message}`;
  } finally {
    button.disabled = false;
    button.textContent = "Download all (.zip)";
  }
}

function openViewer(src, index, id) {
  $("viewer-title").textContent = `Panel ${index}`;
  $("viewer-image").src = src;
  $("viewer-image").alt = `Panel ${index}, full size`;
  $("viewer-download").href = src;
  $("viewer-download").download = `${id}-${index}.${extOf(src)}`;
  $("viewer").showModal();
}

// ------------------------------------------------------------------ examples

async function blobToDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function loadExamples() {
  const { items } = await api("GET", "/playground/examples");
  const grid = $("example-grid");
  grid.replaceChildren();
  if (!items.length) grid.textContent = "No examples here: they are served from a checkout's examples/ folder.";
  for (const ex of items) {
    const li = document.createElement("li");
    li.className = "example";
    li.dataset.example = ex.id;
    const thumbs = document.createElement("div");
    thumbs.className = "example-thumbs";
    for (const r of ex.refs) {
      const img = document.createElement("img");
      img.src = r.url;
      img.alt = `${ex.title}: reference ${r.name}`;
      img.loading = "lazy";
      thumbs.append(img);
    }
    const title = document.createElement("h3");
    title.textContent = ex.title;
    const prompt = document.createElement("p");
    prompt.className = "example-prompt";
    prompt.textContent = ex.prompt;
    const verdict = document.createElement("p");
    verdict.className = "example-verdict";
    verdict.textContent = "checking with the engine…";
    const use = document.createElement("button");
    use.type = "button";
    use.className = "secondary small";
    use.textContent = "Use this example";
    use.setAttribute("aria-label", `Use the example ${ex.title}`);
    use.addEventListener("click", () => useExample(ex));
    li.append(thumbs, title, prompt, verdict, use);
    grid.append(li);
    ex.verdictEl = verdict;
  }
  // ask the plan endpoint, one example at a time, whether the running engine can do each
  for (const ex of items) {
    try {
      const images = [];
      for (const r of ex.refs) images.push(await blobToDataUrl(await (await fetch(r.url)).blob()));
      const body = { prompt: ex.prompt, images, max_images: ex.max_images };
      if (ex.size) body.size = ex.size;
      const plan = await api("POST", `/api/v3/${MODEL}/plan`, body);
      exampleVerdict(ex, plan);
    } catch (err) {
      ex.verdictEl.textContent = `could not check: ${err.message}`;
    }
  }
}

function exampleVerdict(ex, plan) {
  const el = ex.verdictEl;
  el.replaceChildren();
  if (plan.refusal) {
    const needed = /--engine (\w+)/.exec(plan.refusal);
    el.className = "example-verdict bad";
    el.append(
      verdictChip("unsupported"),
      document.createTextNode(
        ` The ${plan.engine} engine cannot do this${needed ? `; the ${needed[1]} engine can` : ""}: ${plan.refusal}`,
      ),
    );
    return;
  }
  const approx = plan.verdicts.find((v) => v.verdict === "approximate");
  el.className = "example-verdict " + (approx ? "warn" : "good");
  el.append(
    verdictChip(approx ? "approximate" : "supported"),
    document.createTextNode(
      approx
        ? ` The ${plan.engine} engine approximates part of it${approx.note ? `: ${approx.note}` : ""}.`
        : ` The ${plan.engine} engine does this.`,
    ),
  );
}

async function useExample(ex) {
  clearErrors();
  state.refs = [];
  renderRefs();
  $("prompt").value = ex.prompt;
  setCount(ex.max_images);
  selectSize(ex.size);
  const files = [];
  for (const r of ex.refs) {
    const blob = await (await fetch(r.url)).blob();
    files.push(new File([blob], r.name, { type: blob.type }));
  }
  document.getElementById("playground").scrollIntoView({ behavior: "smooth", block: "start" });
  await addFiles(files);
  $("prompt").focus();
}

// ------------------------------------------------------------------ history

async function loadHistory(more = false) {
  const number = more ? state.historyPage + 1 : 1;
  let page;
  try {
    page = await api("POST", "/api/v3/predictions", { page: number, page_size: HISTORY_PAGE_SIZE });
  } catch (err) {
    $("history-empty").hidden = false;
    $("history-empty").textContent = `History is unavailable: ${err.message}`;
    return;
  }
  state.historyPage = number;
  const list = $("history-list");
  if (!more) list.replaceChildren();
  $("history-empty").hidden = page.items.length > 0 || more;
  $("history-more").hidden = number * HISTORY_PAGE_SIZE >= page.total;
  for (const pred of page.items) {
    const li = document.createElement("li");
    li.className = "history-item";
    li.dataset.id = pred.id;
    const strip = document.createElement("div");
    strip.className = "history-thumbs";
    pred.outputs.slice(0, 6).forEach((out, i) => {
      const img = document.createElement("img");
      img.src = out;
      img.alt = `Panel ${i + 1}`;
      img.loading = "lazy";
      strip.append(img);
    });
    if (!pred.outputs.length) {
      const none = document.createElement("span");
      none.className = "history-none";
      none.textContent = pred.status;
      strip.append(none);
    }
    const info = document.createElement("div");
    info.className = "history-info";
    const prompt = document.createElement("p");
    prompt.className = "history-prompt";
    prompt.textContent = pred.input?.prompt || "";
    const meta = document.createElement("p");
    meta.className = "muted";
    const when = new Date(pred.created_at).toLocaleString();
    meta.textContent = `${pred.status} · ${pred.outputs.length || pred.input?.max_images || 0} image(s) · ${when}`;
    info.append(prompt, meta);
    const actions = document.createElement("div");
    actions.className = "history-actions";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "secondary small";
    open.textContent = "Open";
    open.setAttribute("aria-label", `Open prediction ${pred.id}`);
    open.addEventListener("click", () => reopen(pred));
    const again = document.createElement("button");
    again.type = "button";
    again.className = "link";
    again.textContent = "Use settings";
    again.addEventListener("click", () => reuse(pred));
    actions.append(open, again);
    li.append(strip, info, actions);
    list.append(li);
  }
}

function reopen(pred) {
  clearRun();
  renderProgress(pred.outputs.length, pred.progress?.total || pred.outputs.length);
  setStatus(`${pred.status[0].toUpperCase()}${pred.status.slice(1)} · ${pred.id.slice(0, 8)}`, pred.status === "completed" ? "good" : "");
  showResult(pred);
  $("output").scrollIntoView({ behavior: "smooth", block: "start" });
}

function reuse(pred) {
  const input = pred.input || {};
  $("prompt").value = input.prompt || "";
  setCount(input.max_images || 1);
  selectSize(input.size || null);
  if (pred.seed !== undefined && pred.seed !== null) $("seed").value = String(pred.seed);
  state.refs = (input.images || [])
    .filter((u) => /^https?:\/\//.test(u))
    .map((u, i) => ({ name: `reference ${i + 1}`, preview: u, url: u, uploading: false, error: null }));
  renderRefs();
  schedulePlan();
  $("playground").scrollIntoView({ behavior: "smooth", block: "start" });
}

// ------------------------------------------------------------------ sizes

function selectSize(size) {
  const sel = $("size");
  if (!size) {
    sel.value = "auto";
  } else {
    const norm = String(size).replace(/[x×X]/, "*");
    const option = [...sel.options].find((o) => o.value === norm);
    if (option) sel.value = norm;
    else {
      sel.value = "custom";
      const [w, h] = norm.split("*");
      $("width").value = w;
      $("height").value = h;
    }
  }
  $("custom-size").hidden = sel.value !== "custom";
}

function fillSizes(presets) {
  const sel = $("size");
  sel.replaceChildren();
  const auto = new Option("Auto · first reference's aspect, ~2 MP", "auto");
  sel.append(auto);
  const tiers = { "2mp": "About 2 MP", "1mp": "About 1 MP", "0.1mp": "About 0.1 MP" };
  for (const [tier, label] of Object.entries(tiers)) {
    const group = document.createElement("optgroup");
    group.label = label;
    for (const p of presets.filter((x) => x.tier === tier)) {
      const [a, b] = p.aspect.split(":").map(Number);
      const shape = a === b ? "square" : a > b ? "landscape" : "portrait";
      group.append(new Option(`${p.aspect} ${shape} · ${p.width}×${p.height}`, `${p.width}*${p.height}`));
    }
    sel.append(group);
  }
  sel.append(new Option("Custom W×H…", "custom"));
  sel.value = "auto";
}

// ------------------------------------------------------------------ wiring

function wire() {
  setupDrop();
  $("form").addEventListener("submit", generate);
  $("form").addEventListener("reset", () => {
    setTimeout(() => {
      state.refs = [];
      renderRefs();
      selectSize(null);
      setCount(4);
      clearErrors();
      schedulePlan();
    });
  });
  $("prompt").addEventListener("input", schedulePlan);
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) generate(e);
  });
  $("max_images").addEventListener("input", () => {
    $("max_images_range").value = $("max_images").value;
    schedulePlan();
  });
  $("max_images_range").addEventListener("input", () => {
    $("max_images").value = $("max_images_range").value;
    schedulePlan();
  });
  $("size").addEventListener("change", () => {
    $("custom-size").hidden = $("size").value !== "custom";
    schedulePlan();
  });
  for (const id of ["width", "height", "seed"]) $(id).addEventListener("input", schedulePlan);
  $("reroll").addEventListener("click", () => {
    const max = state.config.limits.seed_max;
    const r = new Uint32Array(1);
    crypto.getRandomValues(r);
    $("seed").value = String(r[0] % (max + 1));
    schedulePlan();
  });
  $("seed-random").addEventListener("click", () => {
    $("seed").value = "";
    schedulePlan();
  });
  $("reuse-seed").addEventListener("click", () => {
    if (state.result?.seed !== undefined) $("seed").value = String(state.result.seed);
    schedulePlan();
  });
  $("cancel").addEventListener("click", async () => {
    if (state.running) await api("POST", `/api/v3/predictions/${state.running}/cancel`).catch(showError);
  });
  $("download-zip").addEventListener("click", downloadZip);
  $("viewer-close").addEventListener("click", () => $("viewer").close());
  $("viewer").addEventListener("click", (e) => {
    if (e.target === $("viewer")) $("viewer").close();
  });
  $("history-refresh").addEventListener("click", () => loadHistory());
  $("history-more").addEventListener("click", () => loadHistory(true));
  $("signout").addEventListener("click", async () => {
    await api("POST", "/playground/signout").catch(() => null);
    location.replace("/");
  });
}

async function main() {
  const who = await signIn();
  if (!who) {
    $("signin").hidden = false;
    return;
  }
  state.config = await api("GET", "/playground/config");
  $("app").hidden = false;
  $("account").hidden = false;
  $("topnav").hidden = false;
  $("key-label").textContent = `${who.key.name || "key"} · ${who.key.prefix}…`;
  $("engine-chip").hidden = false;
  $("engine-chip").textContent = `engine: ${state.config.engine}`;
  $("engine-name").textContent = `${state.config.engine} engine`;
  $("max_images").max = $("max_images_range").max = String(state.config.limits.max_outputs);
  fillSizes(state.config.presets);
  renderRefs();
  wire();
  updatePrice(null);
  document.body.dataset.ready = "1";
  loadHistory();
  loadExamples().catch((err) => {
    $("example-grid").textContent = `Examples are unavailable: ${err.message}`;
  });
}

main();
