// The explorer's wiring: key, finding a session, loading its timeline page by page, and
// handing the selected seq to each panel. A panel that fails says which service failed;
// the other panels keep working.
import { api, clearKey, getConfig, getKey, jaegerLink, loadConfig, otelTraceId, setKey } from "./api.js";
import { h, $, status } from "./dom.js";
import { createTimeline } from "./timeline.js";
import { showContext, showStateAt } from "./state.js";
import { play, step, stop, stopLive, toggleLive, togglePause } from "./player.js";
import { showProfile } from "./profile.js";
import { showModels } from "./models.js";
import { chosenTypes, clearTypes, fillTypes, filterByType } from "./typefilter.js";

const PAGE = 1000;      // ingest's largest page
const PARALLEL = 4;     // pages in flight at once
const current = { session: null, person: null, loading: null };
const timeline = createTimeline($("#timeline"), { onSelect: (e) => select(e) });

function select(event) {
  showStateAt(current.session, event.seq);
  const trace = otelTraceId(event.traceparent);
  const jaeger = jaegerLink(trace);
  renderLinks(jaeger ? h("li", {}, h("a", { href: jaeger, target: "_blank", rel: "noopener" },
    `seq ${event.seq} in Jaeger (trace ${trace.slice(0, 8)}…)`)) : h("li", {}, `seq ${event.seq} carries no trace context`));
}

function renderLinks(eventLink) {
  const grafana = getConfig().grafana || {};
  $("#links").replaceChildren(eventLink || "", ...Object.entries(grafana).map(([service, url]) =>
    h("li", {}, h("a", { href: url, target: "_blank", rel: "noopener" }, `${service} in Grafana`))));
}

async function loadTimeline(session, { selectSeq } = {}) {
  if (current.loading) current.loading.abort();
  const controller = current.loading = new AbortController();
  stop();
  if (session !== current.session) stopLive();
  current.session = session;
  current.person = null;
  timeline.reset();
  $("#type-filter").replaceChildren();
  clearPanels();
  $("#timeline-title").textContent = `— ${session}`;
  status("timeline-panel", "loading…");
  const path = `/v1/sessions/${encodeURIComponent(session)}/events`;
  const page = (after) => api("ingest", `${path}?after_seq=${after}&limit=${PAGE}`, { signal: controller.signal });
  try {
    // The first page paints at once; seq is gapless, so the rest is fetched a few pages at a
    // time in parallel and appended in order.
    const first = await page(0);
    timeline.append(first.events);
    current.person = (first.events.find((e) => e.person_id) || {}).person_id || null;
    firstPage(session);
    let total = first.last_seq;
    for (let after = first.next_after_seq; after < total;) {
      const starts = [];
      for (let k = 0; k < PARALLEL && after + k * PAGE < total; k++) starts.push(after + k * PAGE);
      const pages = await Promise.all(starts.map(page));
      for (const p of pages) timeline.append(p.events);
      total = Math.max(total, ...pages.map((p) => p.last_seq));
      after = timeline.lastSeq();
      status("timeline-panel", `${timeline.events().length} of ${total} events`);
      if (!pages[pages.length - 1].events.length) break;
    }
    status("timeline-panel", `${timeline.events().length} of ${total} events`);
  } catch (err) {
    if (err.name === "AbortError") return;
    status("timeline-panel", err.message, "error");
    return;
  }
  fillTypes(timeline.events());
  if (selectSeq) timeline.select(selectSeq);
  showModels(timeline.events()).catch((err) => status("models-panel", err.message, "error"));
}

// A new session starts from empty panels: nothing of the previous one may linger.
function clearPanels() {
  for (const id of ["#timeline-markers", "#state-json", "#context-json"]) $(id).textContent = "";
  for (const id of ["#state-diff", "#played", "#profile", "#evidence", "#models"]) $(id).replaceChildren();
  $("#state-seq").textContent = "—";
  for (const panel of ["state-panel", "context-panel", "play-panel", "profile-panel", "models-panel"]) status(panel, "");
}

// Panels that need only the session and person start as soon as the first page is in.
function firstPage(session) {
  showProfile(current.person, openEvidence);
  markSnapshots(session);
  renderLinks(null);
}

async function markSnapshots(session) {
  try {
    const body = await api("snapshot", `/v1/sessions/${encodeURIComponent(session)}/snapshots`);
    const list = Array.isArray(body) ? body : body.snapshots || [];
    timeline.setSnapshots(list.map((s) => s.at_seq ?? s.seq));
    $("#timeline-markers").textContent = `${list.length} snapshot(s)`;
  } catch (err) {
    const note = $("#timeline-markers");
    note.textContent = `snapshot markers unavailable — ${err.message}`;
    note.dataset.kind = "error";
  }
}

async function openEvidence(session, seq) {
  if (session !== current.session) return loadTimeline(session, { selectSeq: seq });
  if (!timeline.select(seq)) applyTypes([]).then(() => timeline.select(seq));  // filtered out: show all
}

async function applyTypes(types) {
  if (!current.session) return;
  if (!types.length) clearTypes();
  status("timeline-panel", "filtering…");
  try {
    status("timeline-panel", await filterByType(timeline, current.session, current.person, types));
  } catch (err) {
    status("timeline-panel", err.message, "error");
  }
}

async function find(kind, value) {
  $("#find-panel").hidden = true;
  if (kind === "session") return loadTimeline(value);
  const panel = $("#find-panel");
  const results = $("#find-results");
  results.replaceChildren();
  panel.hidden = false;
  status("find-panel", "searching…");
  try {
    const hits = kind === "person"
      ? (await api("tracestore", `/replay/person/${encodeURIComponent(value)}?limit=1000`)).traces
        .map((t) => ({ session: t.session_id, seq: null }))
      : (await api("tracestore", `/v1/traces/by-otel/${encodeURIComponent(value)}`)).events
        .map((e) => ({ session: e.session_id, seq: e.seq }));
    const seen = new Map();
    for (const hit of hits) if (!seen.has(hit.session)) seen.set(hit.session, hit.seq);
    results.replaceChildren(...[...seen].map(([session, seq]) => h("li", {}, h("button", { type: "button",
      onclick: () => loadTimeline(session, { selectSeq: seq }) }, seq ? `${session} at seq ${seq}` : session))));
    status("find-panel", seen.size ? `${seen.size} session(s)` : "nothing found");
    if (seen.size === 1) { const [[session, seq]] = [...seen]; loadTimeline(session, { selectSeq: seq }); }
  } catch (err) {
    status("find-panel", err.message, "error");
  }
}

function keyStatus() {
  $("#key-status").textContent = getKey() ? "key set for this tab" : "no key yet";
}

function wire() {
  $("#key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("#api-key").value.trim();
    if (key) setKey(key);
    $("#api-key").value = "";
    keyStatus();
  });
  $("#key-clear").addEventListener("click", () => { clearKey(); keyStatus(); });
  $("#find-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("#find-value").value.trim();
    if (value) find($("#find-kind").value, value);
  });
  $("#type-filter-form").addEventListener("submit", (ev) => { ev.preventDefault(); applyTypes(chosenTypes()); });
  $("#type-filter-clear").addEventListener("click", () => applyTypes([]));
  $("#context-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (current.session) showContext(current.session);
  });
  const onTrace = (seq) => timeline.markPlaying(seq);
  $("#play-speed").addEventListener("input", () => { $("#play-speed-out").textContent = `${$("#play-speed").value}×`; });
  $("#play-start").addEventListener("click", () => {
    if (current.session && current.person) play(current.person, current.session, onTrace);
    else status("play-panel", "find a session with a person first", "error");
  });
  $("#play-pause").addEventListener("click", () => togglePause(onTrace));
  $("#play-step").addEventListener("click", () => step(onTrace));
  $("#live-toggle").addEventListener("click", () => {
    if (current.session) toggleLive(current.session, timeline.lastSeq(), (e) => timeline.append([e]));
  });
}

async function main() {
  wire();
  keyStatus();
  try {
    await loadConfig();
    renderLinks(null);
  } catch (err) {
    status("timeline-panel", err.message, "error");
  }
}

main();
