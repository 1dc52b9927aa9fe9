// How figures read: bytes in binary units, UTC times, ratios as the API writes them, durations.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "—";
  let value = Number(n);
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

export function rate(n) {
  return `${bytes(n)}/s`;
}

export function count(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

export function percent(part, whole) {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : "—";
}

export function ratio(value) {
  // The objects carry "N.N : 1" strings, the capacity series numbers.
  if (typeof value === "string") return value;
  return value ? `${Number(value).toFixed(1)} : 1` : "—";
}

export function ratioValue(value) {
  return typeof value === "string" ? parseFloat(value) : Number(value);
}

export function time(text) {
  if (!text || text === "NA" || text.startsWith("1970-01-01")) return "—";
  return text.replace("T", " ").replace(/:\d\dZ$/, " UTC").replace(/Z$/, " UTC");
}

export function seconds(text) {
  return Date.parse(text) / 1000;
}

export function minutes(n) {
  const m = Number(n);
  if (!m) return "—";
  const whole = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  if (m >= 2880 || m % 1440 === 0) return `${whole(m / 1440)} d`;
  if (m >= 120 || m % 60 === 0) return `${whole(m / 60)} h`;
  return `${m} min`;
}

export function micros(n) {
  return `${(Number(n) / 1000).toFixed(2)} ms`;
}

export function stateClass(state) {
  const s = String(state || "").toUpperCase();
  if (["ALIVE", "PROTECTED", "COMPLETED", "ON", "SAFE", "SUCCESS", "SUCCESS_COMMITTED"].includes(s)) return "ok";
  if (["FAILED", "FAULTY", "DEAD", "DELETED", "REMOVED", "DEGRADED", "UNPROTECTED"].includes(s)) return "bad";
  if (["IN_PROGRESS", "QUEUED", "SAVING", "NEW", "REBUILDING", "SYNCING", "SUSPECTED", "MANAGED"].includes(s)) return "warn";
  return "";
}
