// Replay at a chosen speed (trace-store's paced SSE stream, read with fetch because
// EventSource can neither POST nor send a header) and live events (replay's WebSocket,
// RECOVERY_SYNC first; after a dropped connection it resumes from the last seq it saw).
import { api, getKey, wsUrl } from "./api.js";
import { h, $, status, fmtTime } from "./dom.js";
import { describe } from "./timeline.js";

let stream = null;      // AbortController of the running paced stream
let queue = [];         // traces received while paused
let paused = false;
let live = null;        // {socket, stopped, lastSeq}

export const speed = () => Number($("#play-speed").value || 10);

function played(doc) {
  const e = doc.event_data || {};
  const seq = e.seq ?? doc.seq;
  $("#played").append(h("li", { dataset: { seq } }, `#${seq} ${doc.event_type} ${fmtTime(doc.timestamp)} ${describe(e)}`));
  return seq;
}

function parseSse(chunk) {
  const event = /^event: (.*)$/m.exec(chunk);
  const data = /^data: (.*)$/m.exec(chunk);
  return event && data ? { type: event[1], data: JSON.parse(data[1]) } : null;
}

export async function play(person, session, onTrace) {
  stop();
  $("#played").replaceChildren();
  queue = [];
  const controller = stream = new AbortController();
  const timeScale = 1 / speed();
  status("play-panel", `playing at ${speed()}×…`);
  try {
    const q = new URLSearchParams({ time_scale: String(timeScale) });
    const response = await api("tracestore",
      `/replay/session/${encodeURIComponent(person)}/${encodeURIComponent(session)}/stream?${q}`,
      { method: "POST", signal: controller.signal, raw: true });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const msg = parseSse(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (!msg) continue;
        if (msg.type === "trace") {
          if (paused) queue.push(msg.data);
          else onTrace(played(msg.data));
        } else if (msg.type === "end") {
          status("play-panel", paused ? `stream done; ${queue.length} held while paused` : `played ${msg.data.count} events`);
        }
      }
    }
  } catch (err) {
    if (err.name !== "AbortError") status("play-panel", err.message, "error");
  }
}

export function stop() {
  if (stream) stream.abort();
  stream = null;
}

export function togglePause(onTrace) {
  paused = !paused;
  $("#play-pause").setAttribute("aria-pressed", String(paused));
  if (!paused) while (queue.length) onTrace(played(queue.shift()));
}

export function step(onTrace) {
  if (queue.length) onTrace(played(queue.shift()));
}

export function stopLive() {
  if (!live) return false;
  live.stopped = true;
  live.socket.close();
  live = null;
  $("#live-toggle").setAttribute("aria-pressed", "false");
  return true;
}

// Live: RECOVERY_SYNC, then EVENT messages; the key travels as a `bearer.` subprotocol.
export function toggleLive(session, lastSeq, onEvent) {
  if (stopLive()) {
    status("play-panel", "live stopped");
    return;
  }
  live = { stopped: false, lastSeq, socket: null, retry: 500 };
  $("#live-toggle").setAttribute("aria-pressed", "true");
  connect(session, onEvent);
}

function connect(session, onEvent) {
  const state = live;
  const url = wsUrl("replay", `/v1/sessions/${encodeURIComponent(session)}/ws?last_seq=${state.lastSeq}`);
  const socket = state.socket = new WebSocket(url, ["lifeline.v1", `bearer.${getKey()}`]);
  socket.onopen = () => { state.retry = 500; status("play-panel", "live: connected"); };
  socket.onmessage = (msg) => {
    const body = JSON.parse(msg.data);
    if (body.type === "RECOVERY_SYNC") status("play-panel", `live: in sync at seq ${body.seq} (${body.mode})`);
    else if (body.type === "EVENT" && body.seq > state.lastSeq) { state.lastSeq = body.seq; onEvent(body.event); }
    else if (body.type === "ERROR") { state.stopped = true; status("play-panel", `replay: ${body.detail}`, "error"); }
  };
  socket.onclose = () => {
    if (state.stopped || live !== state) return;
    status("play-panel", `replay: connection dropped; reconnecting after seq ${state.lastSeq}…`, "error");
    setTimeout(() => { if (!state.stopped && live === state) connect(session, onEvent); }, state.retry);
    state.retry = Math.min(state.retry * 2, 10000);
  };
}
