// Models (governance): for each intent of the session, the routing answer now and the
// decision timeline from the audit log; the turns' models, marked when not PRIMARY then.
import { api } from "./api.js";
import { h, $, status, fmtTime } from "./dom.js";

const MAX_CHECKED_TURNS = 40;   // `?at=` look-ups per session: enough to see, cheap to ask

async function intentBlock(intent) {
  const enc = encodeURIComponent(intent);
  const [route, audit] = await Promise.allSettled([api("governance", `/v1/routing/${enc}`),
    api("governance", `/v1/audit?intent=${enc}&limit=200`)]);
  const now = route.status === "fulfilled"
    ? h("p", {}, `routing now: ${route.value.model_id ?? JSON.stringify(route.value)}` +
      (route.value.degraded ? " (degraded)" : ""))
    : h("p", { class: "panel-status", "data-kind": "error" }, route.reason.message);
  const decisions = audit.status === "fulfilled" ? audit.value.decisions : [];
  const timeline = audit.status === "fulfilled"
    ? h("ol", { class: "decisions", "aria-label": `decisions for ${intent}` }, decisions.map((d) => h("li", {
      class: `decision to-${(d.to_state || "").toLowerCase()}` },
    h("time", { datetime: d.decided_at }, fmtTime(d.decided_at)), " ",
    h("strong", {}, d.model_id), ` ${d.from_state ?? "—"} → ${d.to_state ?? d.kind} `,
    h("span", {}, `(${d.actor || d.rule || d.kind}) ${d.reason || ""}`),
    d.inputs ? h("details", {}, h("summary", {}, "inputs"), h("pre", { tabindex: 0 }, JSON.stringify(d.inputs, null, 2))) : null)))
    : h("p", { class: "panel-status", "data-kind": "error" }, audit.reason.message);
  return h("div", { class: "intent" }, h("h3", {}, `intent ${intent}`), now,
    decisions.length || audit.status !== "fulfilled" ? timeline : h("p", {}, "no decisions yet"));
}

async function answeredBy(turns) {
  const rows = [];
  for (const e of turns.slice(-MAX_CHECKED_TURNS)) {
    const p = e.payload;
    let mark = "";
    try {
      const q = new URLSearchParams({ at: e.recorded_at });
      const then = await api("governance", `/v1/routing/${encodeURIComponent(p.intent)}?${q}`);
      if (then.model_id && then.model_id !== p.model_id) mark = ` — not PRIMARY then (${then.model_id} was)`;
    } catch (err) {
      mark = err.status === 404 ? " — no PRIMARY then" : ` — ${err.message}`;
    }
    rows.push(h("li", { class: mark ? "not-primary" : "" }, `#${e.seq} ${p.model_id}${mark}`));
  }
  return h("div", {}, h("h3", {}, "Models that answered"), h("ul", {}, rows));
}

export async function showModels(events) {
  const intents = [...new Set(events.map((e) => e.payload && e.payload.intent).filter(Boolean))];
  const turns = events.filter((e) => e.payload && e.payload.model_id && e.payload.intent);
  if (!intents.length) { $("#models").replaceChildren(); status("models-panel", "no intents in this session"); return; }
  status("models-panel", "loading…");
  const blocks = await Promise.all(intents.map(intentBlock));
  $("#models").replaceChildren(...blocks, turns.length ? await answeredBy(turns) : "");
  const failed = $("#models").querySelector("[data-kind=error]");
  status("models-panel", failed ? failed.textContent : "", failed ? "error" : "info");
}
