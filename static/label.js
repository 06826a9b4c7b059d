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

  // Keys send the form through htmx.ajax rather than clicking a button: a
  // freshly swapped form is wired by htmx only when it settles, and a click
  // before that would submit it natively (a full page load). hx-sync on
  // the form keeps one request at a time; the server makes a repeated
  // submit of a lease harmless.
  function press(name) {
    const f = form();
    const b = button(name);
    if (!f || !b || b.disabled) return;
    if (!window.htmx) {
      b.click();
      return;
    }
    window.htmx.ajax("POST", f.getAttribute("hx-post"), {
      source: f,
      target: f,
      swap: "outerHTML",
      values: { action: b.value },
    });
  }

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
    // A focused button (reached with Tab) does what it says on Enter/Space.
    if (e.target.tagName === "BUTTON" && (c === "Enter" || c === "Space")) return;
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

  // Enter in a radio or checkbox would also submit the form implicitly
  // (natively, if htmx has not wired a just-swapped form yet): the submit
  // key handler above is the only way answers leave.
  document.addEventListener(
    "keypress",
    (e) => {
      const f = form();
      if (f && e.key === "Enter" && e.target.tagName === "INPUT" && f.contains(e.target)) e.preventDefault();
    },
    true,
  );

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
