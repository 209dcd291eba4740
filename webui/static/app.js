// Progressive enhancement only: every page works without this file.
// - drag & drop an image onto the search page submits the "search by image" form
// - the library page polls /api/status and re-index goes through fetch with the CSRF header
// - the import page polls /api/imports (every 2 s while something runs, else every 10 s)
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
  if (rows) rows.replaceChildren(...data.sessions.map(importRow));
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

document.addEventListener("DOMContentLoaded", () => {
  setupDropzone();
  setupStatusPolling();
  setupReindex();
  setupImportPolling();
});
