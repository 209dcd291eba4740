// Photo-app behaviour (progressive enhancement: every link and form works without it).
// - home grid: infinite scroll fetches the "Load more" URL with partial=1 and appends the cards
// - remembers the grid's scroll position when a photo is opened; Esc in the viewer comes back to it
// - viewer: ← → move, Esc goes back, i toggles the info panel, swipe on touch screens, click to zoom
"use strict";

const SCROLL_KEY = "edge-grid-scroll";

function appendPage(list, html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const next = doc.getElementById("results");
  if (!next) return null;
  const lastCard = list.querySelector("li.card:last-of-type");
  const lastDay = lastCard ? lastCard.getAttribute("data-day") : null;
  Array.from(next.children).forEach((li) => {
    const heading = li.classList.contains("day") ? li.textContent.trim() : null;
    if (heading !== null && heading === lastDay) return; // same day continues
    list.appendChild(document.adoptNode(li));
  });
  return next.getAttribute("data-next-url") || "";
}

// A busy box answers 503 with Retry-After (seconds): wait that long, then try again.
function retryAfterMs(response) {
  const s = parseInt(response.headers.get("Retry-After") || "", 10);
  return (Number.isFinite(s) && s > 0 ? s : 2) * 1000;
}

function setupInfiniteScroll() {
  const list = document.getElementById("results");
  const more = document.getElementById("load-more");
  if (!list || !more || !("IntersectionObserver" in window)) return;
  let nextUrl = list.getAttribute("data-next-url");
  let busy = false;
  const load = () => {
    busy = true;
    const url = new URL(nextUrl, location.href);
    url.searchParams.set("partial", "1");
    fetch(url, { credentials: "same-origin" })
      .then((r) => {
        if (r.status !== 503) return r.ok ? r.text() : Promise.reject(r.status);
        more.textContent = "The box is busy – retrying…";
        window.setTimeout(load, retryAfterMs(r));
        return null;
      })
      .then((html) => {
        if (html === null) return;
        busy = false;
        nextUrl = appendPage(list, html);
        list.setAttribute("data-next-url", nextUrl || "");
        // keep the no-JS link in step, so "back" and reload land on the loaded pages
        if (nextUrl) more.href = nextUrl; else more.parentElement.remove();
      })
      .catch(() => { busy = false; more.textContent = "Load more (retry)"; });
  };
  const observer = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting) || busy || !nextUrl) return;
    load();
  }, { rootMargin: "600px" });
  observer.observe(more.parentElement);
}

function rememberScrollOnOpen() {
  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("#results-wrap a.thumb");
    if (!link) return;
    const card = link.closest("li.card");
    const pages = Math.ceil(document.querySelectorAll("#results li.card").length / 48);
    sessionStorage.setItem(SCROLL_KEY, JSON.stringify({
      path: location.pathname + location.search, y: window.scrollY,
      id: card ? card.getAttribute("data-photo-id") : null, pages: pages,
    }));
  });
}

function restoreScroll() {
  const m = location.hash.match(/^#photo-(\d+)$/);
  if (!m) return;
  const card = document.getElementById("photo-" + m[1]);
  if (!card) return;
  const weak = card.closest("details");
  if (weak) weak.open = true;
  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(SCROLL_KEY) || "null"); } catch (err) { saved = null; }
  if (saved && saved.id === m[1]) {
    window.scrollTo(0, saved.y);  // exactly where the person left the grid
  } else {
    card.scrollIntoView({ block: "center" });  // moved on in the viewer: show that photo
  }
  card.querySelector("a").focus({ preventScroll: true });
}

function setupViewer() {
  const viewer = document.getElementById("viewer");
  if (!viewer) return;
  const go = (attr) => { const url = viewer.getAttribute(attr); if (url) location.assign(url); };
  const toggle = document.getElementById("viewer-info-toggle");
  const toggleInfo = () => {
    const hidden = viewer.classList.toggle("info-hidden");
    if (toggle) toggle.setAttribute("aria-expanded", String(!hidden));
  };
  if (toggle) toggle.addEventListener("click", toggleInfo);
  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || /INPUT|TEXTAREA|SELECT/.test(e.target.tagName)) return;
    if (e.key === "ArrowLeft") go("data-prev-url");
    else if (e.key === "ArrowRight") go("data-next-url");
    else if (e.key === "Escape") go("data-back-url");
    else if (e.key === "i") toggleInfo();
  });
  const stage = document.getElementById("viewer-stage");
  let startX = null;
  stage.addEventListener("touchstart", (e) => { if (e.touches.length === 1) startX = e.touches[0].clientX; }, { passive: true });
  stage.addEventListener("touchend", (e) => {
    if (startX === null || stage.classList.contains("zoomed")) return;
    const dx = e.changedTouches[0].clientX - startX;
    startX = null;
    if (dx > 60) go("data-prev-url"); else if (dx < -60) go("data-next-url");
  });
  stage.addEventListener("click", () => stage.classList.toggle("zoomed"));
}

document.addEventListener("DOMContentLoaded", () => {
  setupInfiniteScroll();
  rememberScrollOnOpen();
  restoreScroll();
  setupViewer();
});
// the browser scrolls to the #photo-N fragment itself once the page has loaded: win that race
window.addEventListener("load", () => requestAnimationFrame(restoreScroll));
