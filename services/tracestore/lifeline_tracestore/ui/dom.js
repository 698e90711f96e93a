// A tiny element builder: h("li", {class: "x", onclick}, "text", child) — no framework needed.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (selector) => document.querySelector(selector);

// Each panel has one status line: the place where it says what failed, and which service.
export function status(panelId, text, kind = "info") {
  const line = document.querySelector(`#${panelId} .panel-status`);
  if (!line) return;
  line.textContent = text || "";
  line.dataset.kind = text ? kind : "";
}

export function fmtTime(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z") : "";
}
