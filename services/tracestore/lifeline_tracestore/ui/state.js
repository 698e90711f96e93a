// State at a seq (replay's time travel) and what changed against the seq before it.
import { api } from "./api.js";
import { h, $, status } from "./dom.js";

const SCALARS = ["stage", "intent", "turn_count", "started", "finished", "finish_reason", "restored_from",
  "evaluation_count", "last_evaluation_score"];
const MAPS = { confirmed_facts: "facts", flags: "flags", error_counts: "errors", strength_counts: "strengths",
  skill_tag_counts: "skill tags", model_stats: "model stats" };
const LISTS = { objectives: "objectives", completed_objectives: "completed objectives", pins: "pins",
  retracted_facts: "retracted facts" };

const show = (v) => (typeof v === "string" ? v : JSON.stringify(v));

// Pure: the differences between two states, as {section, change, name, before, after} rows.
export function diffStates(before, after) {
  const rows = [];
  for (const f of SCALARS) {
    if (show(before[f] ?? null) !== show(after[f] ?? null)) rows.push({ section: f, change: "changed", name: f, before: before[f], after: after[f] });
  }
  for (const [f, label] of Object.entries(MAPS)) {
    const a = before[f] || {}, b = after[f] || {};
    for (const k of Object.keys(b)) {
      if (!(k in a)) rows.push({ section: label, change: "added", name: k, after: b[k] });
      else if (show(a[k]) !== show(b[k])) rows.push({ section: label, change: "changed", name: k, before: a[k], after: b[k] });
    }
    for (const k of Object.keys(a)) if (!(k in b)) rows.push({ section: label, change: f === "confirmed_facts" ? "retracted" : "removed", name: k, before: a[k] });
  }
  for (const [f, label] of Object.entries(LISTS)) {
    const a = new Set((before[f] || []).map(show)), b = new Set((after[f] || []).map(show));
    for (const x of b) if (!a.has(x)) rows.push({ section: label, change: "added", name: x });
    for (const x of a) if (!b.has(x)) rows.push({ section: label, change: "removed", name: x });
  }
  return rows;
}

async function stateAt(session, seq, signal) {
  if (seq < 1) return {};
  const doc = await api("replay", `/v1/sessions/${encodeURIComponent(session)}/replay`,
    { method: "POST", body: { until_seq: seq }, signal });
  return doc.state;
}

let inflight = null;

export async function showStateAt(session, seq) {
  if (inflight) inflight.abort();
  const controller = inflight = new AbortController();
  $("#state-seq").textContent = String(seq);
  status("state-panel", `loading the state at seq ${seq}…`);
  try {
    const [before, after] = await Promise.all([stateAt(session, seq - 1, controller.signal),
      stateAt(session, seq, controller.signal)]);
    const rows = diffStates(before, after);
    const table = h("table", { class: "diff", "aria-label": `changes at seq ${seq}` },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "what"), h("th", { scope: "col" }, "change"),
        h("th", { scope: "col" }, "name"), h("th", { scope: "col" }, "before"), h("th", { scope: "col" }, "after"))),
      h("tbody", {}, rows.map((r) => h("tr", { class: `change-${r.change}` }, h("td", {}, r.section),
        h("td", {}, r.change), h("td", {}, r.name), h("td", {}, r.before === undefined ? "" : show(r.before)),
        h("td", {}, r.after === undefined ? "" : show(r.after))))));
    $("#state-diff").replaceChildren(
      h("p", { class: "summary" }, `stage ${after.stage ?? "—"} · ${after.turn_count} turns · ` +
        `${Object.keys(after.confirmed_facts || {}).length} facts · ${(after.objectives || []).length} objectives · ` +
        `${(after.pins || []).length} pins`),
      rows.length ? table : h("p", {}, `nothing in the state changed at seq ${seq}`));
    $("#state-json").textContent = JSON.stringify(after, null, 2);
    status("state-panel", "");
  } catch (err) {
    if (err.name === "AbortError") return;
    $("#state-diff").replaceChildren();
    status("state-panel", err.message, "error");
  }
}

export async function showContext(session) {
  const provider = $("#context-provider").value;
  const budget = $("#context-budget").value || "4000";
  status("context-panel", "assembling…");
  try {
    const q = new URLSearchParams({ provider, budget_tokens: budget });
    const body = await api("replay", `/v1/sessions/${encodeURIComponent(session)}/context?${q}`);
    $("#context-json").textContent = JSON.stringify(body, null, 2);
    status("context-panel", "the window replay assembles now, at the session's head (its API has no ?until_seq)");
  } catch (err) {
    $("#context-json").textContent = "";
    status("context-panel", err.message, "error");
  }
}
