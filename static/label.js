// label.js — keyboard operation of the annotation page.
//
// Digits choose a label (classify: 1…9 then 0) or a rating (1…5); f, t, p
// and o toggle a rating's issue flags; the submit key (Enter by default,
// chosen per browser and kept in localStorage) saves and brings the next
// item; s skips with the chosen reason; u undoes the last answer; ? shows
// the shortcuts. The form is swapped by htmx (no full reload) and the
// server makes repeated submits of one lease harmless.
(() => {
  "use strict";

  const STORE_KEY = "mf.label.submitKey";
  const KEYS = ["Enter", "Ctrl+Enter", "Shift+Enter", "Alt+Enter", "Space"];

  function submitKey() {
    let k = null;
    try {
      k = localStorage.getItem(STORE_KEY);
    } catch (_) {
      /* storage may be off */
    }
    return KEYS.includes(k) ? k : "Enter";
  }

  function chord(e) {
    let base = e.key === " " ? "Space" : e.key;
    if (e.ctrlKey || e.metaKey) return "Ctrl+" + base;
    if (e.altKey) return "Alt+" + base;
    if (e.shiftKey && base === "Enter") return "Shift+Enter";
    return base;
  }

  function form() {
    return document.getElementById("annotate");
  }

  function button(name) {
    const f = form();
    return f && f.querySelector(`button[data-key="${name}"]`);
  }

  // A key pressed between an htmx swap and htmx wiring up the new form
  // would submit it natively (a full page load): wait for htmx:load.
  let pending = null;

  function wired(f) {
    return !window.htmx || (f && f.dataset.labReady === "1");
  }

  function press(name) {
    const f = form();
    if (!wired(f)) {
      pending = name;
      return;
    }
    const b = button(name);
    if (b && !b.disabled) b.click();
  }

  document.addEventListener("htmx:load", (e) => {
    const f = form();
    const elt = e.detail && e.detail.elt;
    if (!f || !elt || (elt !== f && !elt.contains(f))) return;
    f.dataset.labReady = "1";
    if (pending) {
      const p = pending;
      pending = null;
      press(p);
    }
  });

  function showKeyLabels() {
    const k = submitKey();
    document.querySelectorAll("[data-submit-key-label]").forEach((el) => {
      el.textContent = k;
    });
    const sel = document.getElementById("lab-submit-key");
    if (sel) sel.value = k;
  }

  function focusItem() {
    const f = form();
    if (!f) return;
    const text = f.querySelector("textarea[name=response]");
    if (text) {
      text.focus();
      return;
    }
    const checked = f.querySelector("input[type=radio]:checked");
    (checked || f).focus({ preventScroll: true });
  }

  function typing(el) {
    if (!el || !el.tagName) return false;
    const t = el.tagName;
    if (t === "TEXTAREA" || t === "SELECT") return true;
    return t === "INPUT" && !["radio", "checkbox", "hidden", "submit", "button"].includes(el.type);
  }

  document.addEventListener("keydown", (e) => {
    const f = form();
    if (!f || e.defaultPrevented || e.isComposing) return;
    if (document.querySelector("dialog[open]")) return;
    const c = chord(e);
    const inText = typing(e.target);
    // The submit key; in the correction box only a modified Enter submits
    // (plain keys type), and Ctrl+Enter always does.
    if (c === submitKey() || (inText && c === "Ctrl+Enter")) {
      if (inText && !/^(Ctrl|Alt|Shift)\+Enter$/.test(c) && e.target.tagName === "TEXTAREA") return;
      if (e.target.tagName === "SELECT" && c === "Space") return;
      e.preventDefault();
      press("submit");
      return;
    }
    if (inText || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (key === "s") {
      e.preventDefault();
      press("skip");
      return;
    }
    if (key === "u") {
      e.preventDefault();
      press("undo");
      return;
    }
    if (e.key === "?") {
      const s = document.getElementById("lab-shortcuts");
      if (s) {
        s.scrollIntoView({ block: "center" });
        s.classList.add("lab-flash");
        setTimeout(() => s.classList.remove("lab-flash"), 1200);
      }
      e.preventDefault();
      return;
    }
    const target = f.querySelector(`input[data-hotkey="${CSS.escape(key)}"]`);
    if (target) {
      e.preventDefault();
      if (target.type === "checkbox") target.checked = !target.checked;
      else target.checked = true;
      target.focus({ preventScroll: true });
    }
  });

  document.addEventListener("change", (e) => {
    if (e.target && e.target.id === "lab-submit-key") {
      try {
        localStorage.setItem(STORE_KEY, e.target.value);
      } catch (_) {
        /* storage may be off */
      }
      showKeyLabels();
      focusItem(); // back to labeling with the new key
    }
  });

  document.addEventListener("htmx:afterSwap", (e) => {
    if (e.detail && e.detail.target && e.detail.target.id === "annotate") {
      showKeyLabels();
      focusItem();
    }
  });

  // Requests that fail on the network leave the form in place; say so.
  document.addEventListener("htmx:sendError", () => {
    if (window.MF && window.MF.toast) window.MF.toast("Could not reach the server. Your answer was not saved; try again.", "danger");
  });

  showKeyLabels();
  focusItem();
})();
