// What the control panels share: where the server's answer shows, a button that asks again before it
// destroys, the read-only note, and switching a panel's inputs off for read-only users.

import { describe, h } from "../dom.js";

// The line under a panel's controls: what the last change did, or the server's refusal word for word.
export function outcome(name) {
  const el = h("div", { class: "outcome", "aria-live": "polite" });
  return {
    el,
    busy(text) {
      el.replaceChildren(h("p", { class: "muted" }, text));
    },
    ok(...parts) {
      el.replaceChildren(h("p", { class: "alert alert-ok", dataset: { testid: `${name}-done` } }, ...parts));
    },
    error(error) {
      el.replaceChildren(h("p", { class: "alert alert-error", role: "alert", dataset: { testid: `${name}-error` } }, describe(error)));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

// A destructive action takes a second click within a few seconds; the first only asks.
export function confirmButton(label, question, action, attrs = {}) {
  let armed = null;
  const button = h("button", {
    ...attrs,
    class: `btn ${attrs.class || ""}`.trim(),
    type: "button",
    onclick: async () => {
      if (!armed) {
        button.textContent = question;
        button.classList.add("btn-danger");
        armed = setTimeout(disarm, 4000);
        return;
      }
      disarm();
      await action();
    },
  }, label);
  function disarm() {
    clearTimeout(armed);
    armed = null;
    button.textContent = label;
    button.classList.remove("btn-danger");
  }
  return button;
}

export function readOnlyNote(what) {
  return h("p", { class: "alert alert-info", dataset: { testid: "read-only-note" } }, `Read-only users can see ${what} but not change them.`);
}

// Every input, select, textarea and button of `el` off for a read-only user (the server refuses them too).
export function lockFor(ctx, el) {
  if (ctx.isAdmin) return el;
  for (const control of el.querySelectorAll("input, select, textarea, button")) control.disabled = true;
  return el;
}

// Work done while the panel's controls are off, so a change is not sent twice; back on after (for admins).
export async function busyWhile(ctx, el, work) {
  const controls = [...el.querySelectorAll("input, select, textarea, button")];
  for (const control of controls) control.disabled = true;
  try {
    return await work();
  } finally {
    for (const control of controls) control.disabled = !ctx.isAdmin;
  }
}
