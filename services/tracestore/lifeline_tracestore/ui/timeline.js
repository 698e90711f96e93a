// The timeline: a virtualised listbox (only the rows in view exist in the DOM), so a
// 100,000-event session scrolls as smoothly as a 10-event one. Keyboard: arrows,
// Page Up/Down, Home/End move; Enter or Space opens the state at that seq. A filter
// (`setFilter`) shows only the events it keeps; every loaded event stays in `events()`.
import { h, fmtTime } from "./dom.js";

const ROW = 48;      // px; fixed, so a row's position is index × ROW
const OVERSCAN = 8;

function chips(event) {
  const acts = (event.payload && event.payload.acts) || [];
  return acts.map((act) => h("span", { class: `chip chip-${act.op}` },
    act.op + (act.key ? `:${act.key}` : act.code ? `:${act.code}` : act.stage ? `:${act.stage}` : "")));
}

function markers(event, snapshotSeqs) {
  const out = [];
  if (snapshotSeqs.has(event.seq)) out.push(h("span", { class: "marker marker-snapshot", title: "a snapshot was taken at this seq" }, "snapshot"));
  if (event.event_type === "session.restored") out.push(h("span", { class: "marker marker-restore" }, "restore"));
  if (event.event_type === "snapshot.created") out.push(h("span", { class: "marker marker-snapshot" }, "snapshot"));
  const p = event.payload || {};
  if (p.branch_of || p.branch) out.push(h("span", { class: "marker marker-branch" }, "branch"));
  if (p.conflict) out.push(h("span", { class: "marker marker-conflict" }, "conflict"));
  return out;
}

export function describe(event) {
  const p = event.payload || {};
  return p.text || p.reason || p.summary || (p.model_id ? `model ${p.model_id}` : "") ||
    (p.errors ? `errors: ${p.errors.join(", ")}` : "");
}

export function createTimeline(root, { onSelect }) {
  const spacer = root.querySelector(".timeline-spacer");
  let all = [];         // every loaded event, in seq order
  let events = all;     // the rows: `all`, or the events the filter keeps
  let keep = null;      // the filter, (event) => boolean, or null
  let active = -1;
  let selected = -1;
  let playing = -1;
  let snapshotSeqs = new Set();
  let scheduled = false;
  let version = 0;      // bumped when rows' content changes (new data, markers): rows are rebuilt

  function rowId(i) { return `ev-${events[i].seq}`; }

  function renderRow(i) {
    const e = events[i];
    const p = e.payload || {};
    return h("div", {
      id: rowId(i), class: "row", role: "option",
      style: `top:${i * ROW}px`, dataset: { seq: e.seq, index: i, version },
    },
      h("div", { class: "line" },
        h("span", { class: "seq" }, `#${e.seq}`),
        h("time", { datetime: e.recorded_at }, fmtTime(e.recorded_at || e.occurred_at)),
        h("span", { class: "type" }, e.event_type),
        p.role ? h("span", { class: `role role-${p.role}` }, p.role) : null,
        markers(e, snapshotSeqs), chips(e)),
      h("div", { class: "text" }, describe(e)));
  }

  // Rows in view are kept and only their classes updated, so an element under the
  // pointer survives a selection change (a click must land on the row it began on).
  function decorate(el, i) {
    el.classList.toggle("active", i === active);
    el.classList.toggle("playing", i === playing);
    el.setAttribute("aria-selected", i === selected ? "true" : "false");
  }

  function render() {
    scheduled = false;
    spacer.style.height = `${events.length * ROW}px`;
    const first = Math.max(0, Math.floor(root.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(events.length, Math.ceil((root.scrollTop + root.clientHeight) / ROW) + OVERSCAN);
    const kept = new Map();
    for (const el of root.querySelectorAll(".row")) {
      const i = Number(el.dataset.index);
      if (el.dataset.version === String(version) && i >= first && i < last) kept.set(i, el);
      else el.remove();
    }
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const el = kept.get(i) || frag.appendChild(renderRow(i));
      decorate(el, i);
    }
    root.append(frag);
    if (active >= 0 && events[active]) root.setAttribute("aria-activedescendant", rowId(active));
    else root.removeAttribute("aria-activedescendant");
  }

  function schedule() {
    if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
  }

  function reveal(i) {
    const top = i * ROW;
    if (top < root.scrollTop) root.scrollTop = top;
    else if (top + ROW > root.scrollTop + root.clientHeight) root.scrollTop = top + ROW - root.clientHeight;
  }

  function moveTo(i) {
    if (!events.length) return;
    active = Math.max(0, Math.min(events.length - 1, i));
    reveal(active);
    render();
  }

  function choose(i) {
    active = selected = i;
    reveal(i);
    render();
    onSelect(events[i]);
  }

  root.addEventListener("scroll", schedule, { passive: true });
  root.addEventListener("click", (ev) => {
    const row = ev.target.closest(".row");
    if (row) choose(indexOf(Number(row.dataset.seq)));
  });
  window.addEventListener("resize", schedule);
  root.addEventListener("keydown", (ev) => {
    const page = Math.max(1, Math.floor(root.clientHeight / ROW) - 1);
    const moves = { ArrowDown: active + 1, ArrowUp: active - 1, PageDown: active + page,
      PageUp: active - page, Home: 0, End: events.length - 1 };
    if (ev.key in moves) { ev.preventDefault(); moveTo(moves[ev.key]); }
    else if ((ev.key === "Enter" || ev.key === " ") && active >= 0) { ev.preventDefault(); choose(active); }
  });
  root.addEventListener("focus", () => {
    // keyboard focus starts at the first row; a pointer focus leaves the choice to the click
    if (active < 0 && events.length && root.matches(":focus-visible")) moveTo(0);
  });

  const indexOf = (seq) => {
    // seq is gapless from 1 in a full load, so try the direct slot before searching
    const guess = seq - events[0]?.seq;
    if (events[guess] && events[guess].seq === seq) return guess;
    return events.findIndex((e) => e.seq === seq);
  };

  return {
    reset() {
      all = events = []; keep = null; active = selected = playing = -1; snapshotSeqs = new Set();
      root.scrollTop = 0; version++; render();
    },
    append(more) {
      const last = all.length ? all[all.length - 1].seq : 0;
      for (const e of more) {
        if (e.seq <= last) continue;
        all.push(e);
        if (keep && keep(e)) events.push(e);
      }
      schedule();
    },
    setFilter(fn) {
      keep = fn;
      events = fn ? all.filter(fn) : all;
      active = selected = playing = -1; root.scrollTop = 0; version++; render();
    },
    events: () => all,
    shown: () => events.length,
    lastSeq: () => (all.length ? all[all.length - 1].seq : 0),
    setSnapshots(seqs) { snapshotSeqs = new Set(seqs); version++; schedule(); },
    select(seq) { const i = indexOf(seq); if (i >= 0) choose(i); return i >= 0; },
    markPlaying(seq) { playing = indexOf(seq); if (playing >= 0) reveal(playing); render(); },
  };
}
