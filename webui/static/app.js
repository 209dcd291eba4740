// Progressive enhancement only: every page works without this file.
// - drag & drop an image onto the search page submits the "search by image" form
// - the library page polls /api/status and re-index goes through fetch with the CSRF header
// - the import page polls /api/imports (every 2 s while something runs, else every 10 s)
// - the upload page sends each file on its own with a progress bar
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

function setupDropzone() {
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("image-input");
  if (!zone || !input) return;
  ["dragenter", "dragover"].forEach((ev) => zone.addEventListener(ev, (e) => {
    e.preventDefault();
    zone.classList.add("dragover");
  }));
  ["dragleave", "drop"].forEach((ev) => zone.addEventListener(ev, () => zone.classList.remove("dragover")));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
    input.files = e.dataTransfer.files;
    zone.submit();
  });
  input.addEventListener("change", () => { if (input.files.length) zone.submit(); });
}

function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function setText(id, value) {
  const el = document.getElementById(id);
  if (el) el.textContent = String(value);
}

function renderStatus(st) {
  const p = st.progress || {};
  setText("st-state", p.state || "idle");
  setText("st-done", p.done || 0);
  setText("st-total", p.total || 0);
  setText("st-rate", p.rate ? p.rate.toFixed(1) + " photos/s" : "–");
  setText("st-eta", formatDuration(p.eta_s));
  setText("st-errors", p.errors || 0);
  const bar = document.getElementById("st-bar");
  if (bar) { bar.max = p.total || 1; bar.value = p.done || 0; }
  const counts = st.counts || {};
  document.querySelectorAll("#st-counts dd[data-key]").forEach((dd) => {
    const k = dd.getAttribute("data-key");
    if (k in counts) dd.textContent = String(counts[k]);
  });
  const ocr = st.ocr || {};
  const enrich = { ocr_read: (ocr.done || 0) + (ocr.no_text || 0), ocr_done: ocr.done,
    ocr_pending: ocr.pending, ocr_failed: ocr.failed,
    tags_tagged_photos: (st.tags || {}).tagged_photos, tags_waiting_sets: (st.tags || {}).waiting_sets };
  document.querySelectorAll("#st-enrich dd[data-key]").forEach((dd) => {
    const v = enrich[dd.getAttribute("data-key")];
    if (v !== undefined && v !== null) dd.textContent = String(v);
  });
}

function setupStatusPolling() {
  const panel = document.getElementById("status-panel");
  if (!panel) return;
  const url = panel.getAttribute("data-status-url");
  const poll = () => {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then(renderStatus)
      .catch(() => setText("st-state", "status unavailable"))
      .finally(() => { if (!document.hidden) window.setTimeout(poll, 2000); });
  };
  window.setTimeout(poll, 2000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
}

function setupReindex() {
  const form = document.getElementById("reindex-form");
  if (!form) return;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    fetch("/api/reindex", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
    })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => setText("reindex-msg", ok ? "Re-index queued." : body.error || "failed"))
      .catch(() => setText("reindex-msg", "request failed"));
  });
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function importRow(s) {
  const tr = el("tr");
  tr.setAttribute("data-id", String(s.id));
  tr.setAttribute("data-state", s.state);
  const src = el("td", s.label || s.source_key);
  src.appendChild(el("br"));
  src.appendChild(el("span", s.dest_dir, "muted"));
  const state = el("td", s.state + (s.state === "running" ? " (" + s.phase + ")" : ""), "state-" + s.state);
  if (s.reason) { state.appendChild(el("br")); state.appendChild(el("span", s.reason, "muted")); }
  tr.append(src, state);
  [s.found, s.copied, s.skipped_duplicate, s.failed, s.bytes_display, s.rate_display]
    .forEach((v) => tr.appendChild(el("td", v)));
  const stick = el("td");
  stick.appendChild(s.safe_to_remove
    ? el("span", "Safe to remove the USB stick", "safe")
    : el("span", "Copying – do not remove", "busy"));
  tr.appendChild(stick);
  return tr;
}

function pendingItem(p, isAdmin) {
  const li = el("li");
  li.setAttribute("data-name", p.name);
  li.append(el("strong", p.label), " ", el("span", "(" + p.name + ")", "muted"), " ");
  if (!isAdmin) { li.appendChild(el("span", "— an admin can import it", "muted")); return li; }
  const form = el("form", null, "inline");
  form.method = "post";
  form.action = "/import/pending/" + encodeURIComponent(p.name);
  const token = el("input");
  token.type = "hidden"; token.name = "csrf_token"; token.value = csrfToken();
  form.appendChild(token);
  [["import", "Import", ""], ["ignore", "Ignore", "secondary"]].forEach(([value, label, cls]) => {
    const b = el("button", label, cls);
    b.type = "submit"; b.name = "decision"; b.value = value;
    form.appendChild(b);
  });
  li.appendChild(form);
  return li;
}

function renderImports(data, isAdmin) {
  const rows = document.getElementById("imports-rows");
  const pending = document.getElementById("imports-pending");
  if (rows) { rows.replaceChildren(...data.sessions.map(importRow)); labelTables(); }
  if (pending) pending.replaceChildren(...data.pending.map((p) => pendingItem(p, isAdmin)));
  const none = document.getElementById("imports-none");
  if (none) none.hidden = data.sessions.length > 0;
  const noPending = document.getElementById("imports-pending-none");
  if (noPending) noPending.hidden = data.pending.length > 0;
}

function setupImportPolling() {
  const panel = document.getElementById("imports-panel");
  if (!panel) return;
  const url = panel.getAttribute("data-imports-url");
  const isAdmin = panel.getAttribute("data-admin") === "true";
  let active = panel.getAttribute("data-active") === "true";
  let timer = null;
  const schedule = () => {
    window.clearTimeout(timer);
    if (!document.hidden) timer = window.setTimeout(poll, active ? 2000 : 10000);
  };
  const poll = () => {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => { active = Boolean(data.active); renderImports(data, isAdmin); })
      .catch(() => {})
      .finally(schedule);
  };
  schedule();
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
}

// Narrow screens show each table cell as "label: value" (CSS reads data-label).
function labelTables() {
  document.querySelectorAll("table.reflow").forEach((table) => {
    const heads = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((tr) => {
      Array.from(tr.children).forEach((td, i) => { if (heads[i]) td.setAttribute("data-label", heads[i]); });
    });
  });
}

// ------------------------------------------------------------------ upload page
// One request per file (POST /api/uploads) so each file shows its own progress bar and
// its own error; the form itself still works without JavaScript.
function uploadItem(list, file) {
  const li = el("li", null, "upload-item");
  li.appendChild(el("span", file.webkitRelativePath || file.name, "name"));
  const bar = el("progress");
  bar.max = 100; bar.value = 0;
  bar.setAttribute("aria-label", "Upload of " + file.name);
  const outcome = el("span", "Waiting", "outcome");
  li.append(bar, outcome);
  list.appendChild(li);
  return { li, bar, outcome };
}

function sendFile(url, file, row) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const data = new FormData();
    data.append("files", file, file.name);
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) row.bar.value = (100 * e.loaded) / e.total; };
    const done = (status, text) => {
      row.li.className = "upload-item status-" + status;
      row.outcome.textContent = text;
      row.bar.value = 100;
      resolve(status);
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
      const f = (body.files || [])[0];
      if (xhr.status !== 200 || !f) { done("error", "Error: " + (body.error || "HTTP " + xhr.status)); return; }
      if (f.status === "saved") done("saved", "Saved");
      else if (f.status === "duplicate") done("duplicate", "Duplicate, skipped");
      else if (f.status === "restored") done("restored", "Restored from trash");
      else done("error", "Error: " + f.error);
    };
    xhr.onerror = () => done("error", "Error: the connection failed; nothing was kept, try again");
    row.outcome.textContent = "Uploading";
    xhr.send(data);
  });
}

function entryFiles(entry) {
  if (!entry) return Promise.resolve([]);
  if (entry.isFile) return new Promise((res) => entry.file((f) => res([f]), () => res([])));
  const reader = entry.createReader();
  const all = [];
  return new Promise((res) => {
    const next = () => reader.readEntries((batch) => {
      if (!batch.length) { Promise.all(all.map(entryFiles)).then((lists) => res(lists.flat())); return; }
      all.push(...batch);
      next();
    }, () => res([]));
    next();
  });
}

function droppedFiles(dt) {
  const items = Array.from(dt.items || []).filter((i) => i.kind === "file");
  if (items.length && items[0].webkitGetAsEntry) {
    return Promise.all(items.map((i) => entryFiles(i.webkitGetAsEntry()))).then((l) => l.flat());
  }
  return Promise.resolve(Array.from(dt.files || []));
}

async function uploadAll(panel, files) {
  const url = panel.getAttribute("data-upload-url");
  const maxBytes = Number(panel.getAttribute("data-max-bytes"));
  const list = document.getElementById("upload-list");
  const summary = document.getElementById("upload-summary");
  list.replaceChildren();
  const counts = { saved: 0, duplicate: 0, restored: 0, error: 0 };
  const rows = files.map((f) => [f, uploadItem(list, f)]);
  for (const [file, row] of rows) {
    let status;
    if (file.size > maxBytes) {
      row.li.className = "upload-item status-error";
      row.outcome.textContent = "Error: larger than the limit of " + Math.round(maxBytes / 1e6) + " MB";
      status = "error";
    } else {
      status = await sendFile(url, file, row);
    }
    counts[status] += 1;
    const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
    summary.textContent = counts.saved + " saved · " + plural(counts.duplicate, "duplicate") +
      " skipped · " + (counts.restored ? counts.restored + " restored from trash · " : "") +
      plural(counts.error, "error") + (counts.saved ? " · indexing has started" : "");
  }
}

function setupUploader() {
  const panel = document.getElementById("upload-panel");
  const form = document.getElementById("upload-form");
  if (!panel || !form) return;
  const inputs = form.querySelectorAll('input[type="file"]');
  const chosen = () => Array.from(inputs).flatMap((i) => Array.from(i.files || []));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const files = chosen();
    if (files.length) uploadAll(panel, files).then(() => inputs.forEach((i) => { i.value = ""; }));
  });
  ["dragenter", "dragover"].forEach((ev) => form.addEventListener(ev, (e) => {
    e.preventDefault();
    form.classList.add("dragover");
  }));
  ["dragleave", "drop"].forEach((ev) => form.addEventListener(ev, () => form.classList.remove("dragover")));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer) droppedFiles(e.dataTransfer).then((files) => { if (files.length) uploadAll(panel, files); });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  labelTables();
  setupUploader();
  setupDropzone();
  setupStatusPolling();
  setupReindex();
  setupImportPolling();
});
