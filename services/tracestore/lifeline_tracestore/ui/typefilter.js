// The timeline's event-type filter. trace-store lists the session's traces of the chosen
// types (`?event_type=`, repeatable, answered from its index), and the timeline keeps the
// events whose id is among them (a trace's id is its event's id). Events that arrive live
// afterwards are kept by their type.
import { api } from "./api.js";
import { h, $ } from "./dom.js";

const LIMIT = 1000;  // trace-store's largest session listing

// The types the loaded session has, as the filter's choices.
export function fillTypes(events) {
  const types = [...new Set(events.map((e) => e.event_type))].sort();
  $("#type-filter").replaceChildren(...types.map((t) => h("option", { value: t }, t)));
}

export const chosenTypes = () => [...$("#type-filter").selectedOptions].map((o) => o.value);

export function clearTypes() {
  for (const option of $("#type-filter").options) option.selected = false;
}

// Filter `timeline` to `types` (none: every event); the line the timeline's status shows.
export async function filterByType(timeline, session, person, types) {
  if (!types.length) {
    timeline.setFilter(null);
    return `${timeline.events().length} events`;
  }
  if (!person) throw new Error("the type filter needs a session with a person (trace-store lists traces by person)");
  const upto = timeline.lastSeq();
  const q = new URLSearchParams({ limit: String(LIMIT) });
  if (upto) q.set("min_seq", String(upto));  // trace-store waits (bounded) until it has them all
  for (const type of types) q.append("event_type", type);
  const traces = await api("tracestore",
    `/replay/session/${encodeURIComponent(person)}/${encodeURIComponent(session)}?${q}`);
  const ids = new Set(traces.map((t) => t.trace_id));
  const wanted = new Set(types);
  timeline.setFilter((e) => ids.has(e.event_id) || (e.seq > upto && wanted.has(e.event_type)));
  const capped = traces.length >= LIMIT ? ` (trace-store lists at most ${LIMIT}: later ones are not shown)` : "";
  return `${timeline.shown()} of ${timeline.events().length} events: ${types.join(", ")}${capped}`;
}
