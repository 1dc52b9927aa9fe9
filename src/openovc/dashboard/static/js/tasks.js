// The tasks this browser tab started, with the label it gave each (sessionStorage); it polls those still
// running by id, as any client of HPE's API follows the tasks it started (GET /api/tasks/{id}).

import { get } from "./api.js";

const KEY = "openovc.tasks";
const listeners = new Set();

export function tracked() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "[]");
  } catch {
    return [];
  }
}

function save(list) {
  sessionStorage.setItem(KEY, JSON.stringify(list.slice(0, 200)));
  for (const listener of listeners) listener(list);
}

export function track(task, label) {
  const list = tracked().filter((t) => t.id !== task.id);
  list.unshift({ id: task.id, label, task, seen: new Date().toISOString() });
  save(list);
}

export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function running() {
  return tracked().filter((t) => t.task && t.task.state === "IN_PROGRESS");
}

// One poll of every running task; returns how many still run. A task the federation no longer has (a
// snapshot restored or a reset replaced it) is forgotten.
export async function pollRunning(signal) {
  let list = tracked();
  let changed = false;
  for (const entry of list) {
    if (entry.task && entry.task.state !== "IN_PROGRESS") continue;
    try {
      entry.task = (await get(`/api/tasks/${entry.id}`, undefined, signal)).task;
    } catch (error) {
      if (error.status !== 404) throw error;
      entry.gone = true;
    }
    changed = true;
  }
  if (changed) {
    list = list.filter((t) => !t.gone);
    save(list);
  }
  return list.filter((t) => t.task && t.task.state === "IN_PROGRESS").length;
}
