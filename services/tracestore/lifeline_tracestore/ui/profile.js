// The person's long-term memory (memory service): top errors, strengths and flags, each
// opening its evidence — the turns behind it, which select in the timeline — and versions.
import { api } from "./api.js";
import { h, $, status, fmtTime } from "./dom.js";

const SECTIONS = [["errors", "error", "Top errors"], ["strengths", "strength", "Strengths"], ["flags", "flag", "Flags"]];
const person = (p) => `/v1/persons/${encodeURIComponent(p)}`;

export async function showProfile(personId, onEvidence) {
  $("#profile-person").textContent = personId ? `— ${personId}` : "";
  $("#evidence").replaceChildren();
  if (!personId) { status("profile-panel", "this session names no person"); return; }
  status("profile-panel", "loading…");
  try {
    const profile = await api("memory", `${person(personId)}/profile`);
    const blocks = SECTIONS.map(([field, kind, title]) => h("div", { class: "profile-kind" },
      h("h3", {}, title),
      (profile[field] || []).length ? h("ul", {}, profile[field].map((item) => h("li", {},
        h("button", { type: "button", class: "evidence-open", dataset: { kind, code: item.code },
          onclick: () => showEvidence(personId, kind, item.code, onEvidence) },
          `${item.label || item.code}`),
        ` ${item.occurrences} in ${item.sessions} session(s)`, item.trend ? ` · ${item.trend}` : "",
        item.frequent === false ? " · not frequent" : "", item.severity ? ` · ${item.severity}` : "")))
        : h("p", {}, "none")));
    $("#profile").replaceChildren(h("p", { class: "summary" }, profile.summary || ""),
      h("p", {}, `version ${profile.version} · ${profile.sessions_count} session(s) · as of ${fmtTime(profile.as_of)}`),
      ...blocks, await versions(personId));
    status("profile-panel", "");
  } catch (err) {
    $("#profile").replaceChildren();
    status("profile-panel", err.message, err.status === 404 ? "info" : "error");
  }
}

async function versions(personId) {
  try {
    const body = await api("memory", `${person(personId)}/profile/versions?limit=20`);
    return h("details", {}, h("summary", {}, `Versions (${body.versions.length})`),
      h("ul", {}, body.versions.map((v) => h("li", {}, `v${v.version} ${fmtTime(v.created_at)} — ${v.reason}` +
        (v.source_session_id ? ` (from ${v.source_session_id})` : "")))));
  } catch (err) {
    return h("p", { class: "panel-status", "data-kind": "error" }, err.message);
  }
}

async function showEvidence(personId, kind, code, onEvidence) {
  const box = $("#evidence");
  box.replaceChildren(h("p", {}, `loading the evidence of ${code}…`));
  try {
    const q = new URLSearchParams({ kind, code, limit: "50" });
    const body = await api("memory", `${person(personId)}/evidence?${q}`);
    box.replaceChildren(h("h3", {}, `Evidence: ${code}`), h("ul", { class: "evidence-list" },
      body.evidence.map((e) => h("li", {}, h("button", { type: "button", class: "evidence-item",
        dataset: { session: e.session_id, seq: e.seq }, onclick: () => onEvidence(e.session_id, e.seq) },
        `${e.session_id} #${e.seq} (turn ${e.turn_id})`), e.live ? "" : " · rolled back",
        e.suppressed ? " · suppressed" : ""))));
  } catch (err) {
    box.replaceChildren(h("p", { class: "panel-status", "data-kind": "error" }, err.message));
  }
}
