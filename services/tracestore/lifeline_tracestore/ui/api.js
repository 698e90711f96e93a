// The services' public APIs, called from the browser. The key lives in this tab's
// sessionStorage only: it goes in the Authorization header, never in a URL or a log.
const KEY = "lifeline.apiKey";
let config = null;

export async function loadConfig() {
  const r = await fetch("config.json");
  if (!r.ok) throw new Error(`trace-store did not serve config.json (${r.status})`);
  config = await r.json();
  return config;
}

export const getConfig = () => config;
export const getKey = () => sessionStorage.getItem(KEY) || "";
export const setKey = (key) => sessionStorage.setItem(KEY, key);
export const clearKey = () => sessionStorage.removeItem(KEY);

// An error that names the service it came from, so a panel can say which one failed.
export class ServiceError extends Error {
  constructor(service, status, detail) {
    super(`${service}: ${detail}`);
    this.service = service;
    this.status = status;
    this.detail = detail;
  }
}

function explain(service, status, body) {
  const detail = (body && (body.detail || body.title)) || "";
  if (status === 401) return "the API key is missing or unknown";
  if (status === 403) return detail || "this API key lacks the scope this needs";
  if (status === 404) return detail || "not found for this key's tenant";
  return detail || `HTTP ${status}`;
}

// `api("replay", "/v1/...", {method, body})` → parsed JSON, or a ServiceError.
export async function api(service, path, { method = "GET", body, signal, raw = false } = {}) {
  const base = config && config.services[service];
  if (!base) throw new ServiceError(service, 0, "not configured in /ui/config.json");
  const key = getKey();
  if (!key) throw new ServiceError(service, 401, "paste an API key first");
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(base + path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ServiceError(service, 0, `unreachable at ${base} (is it running?)`);
  }
  if (raw && response.ok) return response;
  let parsed = null;
  try { parsed = await response.json(); } catch { parsed = null; }
  if (!response.ok) throw new ServiceError(service, response.status, explain(service, response.status, parsed));
  return parsed;
}

export function wsUrl(service, path) {
  const base = config.services[service].replace(/^http/, "ws");
  return base + path;
}

// The W3C traceparent's trace id, for Jaeger links.
export function otelTraceId(traceparent) {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-/.exec(traceparent || "");
  return m ? m[1] : null;
}

export function jaegerLink(traceId) {
  const pattern = config && config.jaeger_trace_url;
  return pattern && traceId ? pattern.replace("{trace_id}", traceId) : null;
}
