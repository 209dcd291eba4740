// Progressive enhancement of the photo page: hovering a recognised line highlights its
// box on the photo and the other way round. The text is readable without this file.
"use strict";

function linkOcrLines() {
  const lines = document.querySelectorAll(".ocr-line[data-line]");
  const boxes = document.querySelectorAll(".ocr-box[data-line]");
  const toggle = (index, on) => {
    document.querySelectorAll('[data-line="' + index + '"]').forEach((el) => el.classList.toggle("active", on));
  };
  [...lines, ...boxes].forEach((el) => {
    el.addEventListener("mouseenter", () => toggle(el.dataset.line || el.getAttribute("data-line"), true));
    el.addEventListener("mouseleave", () => toggle(el.dataset.line || el.getAttribute("data-line"), false));
  });
}

document.addEventListener("DOMContentLoaded", linkOcrLines);
