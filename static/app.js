// app.js — the small amount of behaviour every ModelFactory page shares:
// theme toggle, toasts, copy buttons, confirmation dialogs, relative times,
// keyboard shortcuts and the mobile navigation. Plain ES2020, no build step,
// no inline handlers (the CSP forbids them): everything hangs off data-*
// attributes and delegated listeners, so htmx-swapped content works too.
(() => {
  "use strict";

  const root = document.documentElement;
  const $ = (sel, el = document) => el.querySelector(sel);
  const $$ = (sel, el = document) => Array.from(el.querySelectorAll(sel));

  // ---------- theme ----------

  const THEME_KEY = "mf-theme";
  const systemDark = () => window.matchMedia("(prefers-color-scheme: dark)").matches;
  const currentTheme = () => root.getAttribute("data-theme") || (systemDark() ? "dark" : "light");

  function setTheme(theme) {
    root.setAttribute("data-theme", theme);
    try { localStorage.setItem(THEME_KEY, theme); } catch (_) { /* private mode */ }
    syncThemeButtons();
  }

  function syncThemeButtons() {
    const next = currentTheme() === "dark" ? "light" : "dark";
    for (const b of $$("[data-theme-toggle]")) {
      b.setAttribute("aria-label", `Switch to ${next} theme`);
      b.title = `Switch to ${next} theme (t)`;
    }
  }

  function toggleTheme() { setTheme(currentTheme() === "dark" ? "light" : "dark"); }

  // ---------- toasts ----------

  const ICONS = {
    success: '<path d="M20 6 9 17l-5-5"/>',
    info: '<circle cx="12" cy="12" r="9"/><path d="M12 16v-4M12 8h.01"/>',
    warning: '<path d="m10.3 3.9-8.2 14.2A2 2 0 0 0 3.8 21h16.4a2 2 0 0 0 1.7-2.9L13.7 3.9a2 2 0 0 0-3.4 0Z"/><path d="M12 9v4M12 17h.01"/>',
    danger: '<circle cx="12" cy="12" r="9"/><path d="m15 9-6 6M9 9l6 6"/>',
  };

  function svg(paths) {
    return `<svg class="icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${paths}</svg>`;
  }

  function dismissToast(t) {
    if (!t || t.classList.contains("is-leaving")) return;
    t.classList.add("is-leaving");
    setTimeout(() => t.remove(), 160);
  }

  function armToast(t) {
    if (t.dataset.armed) return;
    t.dataset.armed = "1";
    const kind = t.dataset.kind || "info";
    // Errors and warnings stay until dismissed: people need time to read them.
    if (kind === "success" || kind === "info") {
      let timer = setTimeout(() => dismissToast(t), 6000);
      t.addEventListener("mouseenter", () => clearTimeout(timer));
      t.addEventListener("mouseleave", () => { timer = setTimeout(() => dismissToast(t), 3000); });
    }
  }

  // toast shows a message in the toast region; kind is success, info,
  // warning or danger. Exposed as MF.toast for other scripts.
  function toast(message, kind = "info") {
    const region = $("#toasts");
    if (!region) return;
    if (!ICONS[kind]) kind = "info";
    const t = document.createElement("div");
    t.className = `toast toast-${kind}`;
    t.dataset.kind = kind;
    t.setAttribute("role", kind === "danger" ? "alert" : "status");
    t.innerHTML = `${svg(ICONS[kind])}<div class="toast-msg"></div><button type="button" class="btn btn-ghost btn-icon btn-sm" data-dismiss-toast aria-label="Dismiss">${svg('<path d="M18 6 6 18M6 6l12 12"/>')}</button>`;
    t.querySelector(".toast-msg").textContent = message;
    region.appendChild(t);
    armToast(t);
  }

  // ---------- copy to clipboard ----------

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    // http:// on a LAN address is not a secure context: fall back to a
    // temporary textarea and execCommand.
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "visually-hidden";
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    if (!ok) throw new Error("copy refused");
  }

  async function onCopy(btn) {
    const text = btn.dataset.copy;
    try {
      await copyText(text);
      btn.classList.add("copied");
      const label = btn.getAttribute("aria-label");
      btn.setAttribute("aria-label", "Copied");
      announce("Copied to clipboard");
      setTimeout(() => {
        btn.classList.remove("copied");
        if (label) btn.setAttribute("aria-label", label);
      }, 1600);
    } catch (_) {
      toast("Could not copy — select the text and copy it by hand.", "warning");
    }
  }

  function announce(msg) {
    const live = $("#live");
    if (!live) return;
    live.textContent = "";
    setTimeout(() => { live.textContent = msg; }, 30);
  }

  // ---------- confirmation dialog ----------

  // Forms (or their submit buttons) with data-confirm="message" ask first.
  // data-confirm-type="NAME" additionally requires typing NAME; this guards
  // destructive actions such as suspending a Datanet. Works for plain and htmx
  // forms because the capture-phase listener runs before htmx's own.
  function confirmSubmit(e) {
    const form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    const src = e.submitter && e.submitter.dataset.confirm ? e.submitter : form;
    const message = src.dataset.confirm;
    if (!message) return;
    if (form.dataset.confirmed === "1") {
      delete form.dataset.confirmed;
      return;
    }
    const dialog = $("#confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      if (!window.confirm(message)) { e.preventDefault(); e.stopImmediatePropagation(); }
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
    openConfirm(dialog, src, () => {
      form.dataset.confirmed = "1";
      if (typeof form.requestSubmit === "function") form.requestSubmit(e.submitter || undefined);
      else form.submit();
    });
  }

  function openConfirm(dialog, src, onYes) {
    const typeName = src.dataset.confirmType || "";
    $("[data-confirm-title]", dialog).textContent = src.dataset.confirmTitle || "Are you sure?";
    $("[data-confirm-message]", dialog).textContent = src.dataset.confirm;
    const okBtn = $("[data-confirm-ok]", dialog);
    okBtn.textContent = src.dataset.confirmButton || "Confirm";
    const typeField = $("[data-confirm-type-field]", dialog);
    const input = $("[data-confirm-input]", dialog);
    input.value = "";
    if (typeName) {
      typeField.hidden = false;
      $("[data-confirm-name]", dialog).textContent = typeName;
      okBtn.disabled = true;
      input.oninput = () => { okBtn.disabled = input.value.trim() !== typeName; };
    } else {
      typeField.hidden = true;
      input.oninput = null;
      okBtn.disabled = false;
    }
    dialog.returnValue = "";
    const done = () => {
      dialog.removeEventListener("close", done);
      if (dialog.returnValue === "ok") onYes();
    };
    dialog.addEventListener("close", done);
    dialog.showModal();
    (typeName ? input : okBtn).focus();
  }

  // ---------- relative times ----------

  const rtf = typeof Intl !== "undefined" && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "long" })
    : null;
  const abs = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const UNITS = [
    ["year", 365 * 24 * 3600], ["month", 30 * 24 * 3600], ["week", 7 * 24 * 3600],
    ["day", 24 * 3600], ["hour", 3600], ["minute", 60],
  ];

  // relative renders "3 min ago" / "in 29 days"; exported for tests.
  function relative(date, now = Date.now()) {
    const secs = Math.round((date.getTime() - now) / 1000);
    if (Math.abs(secs) < 45) return secs <= 0 ? "just now" : "in a moment";
    for (const [unit, size] of UNITS) {
      if (Math.abs(secs) >= size || unit === "minute") {
        const n = Math.round(secs / size);
        return rtf ? rtf.format(n, unit) : `${Math.abs(n)} ${unit}${Math.abs(n) === 1 ? "" : "s"} ${n < 0 ? "ago" : "from now"}`;
      }
    }
    return "";
  }

  function renderTimes(scope = document) {
    for (const el of $$("time[datetime][data-relative]", scope)) {
      const d = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(d.getTime())) continue;
      el.title = abs.format(d);
      el.textContent = relative(d);
    }
  }

  // ---------- keyboard shortcuts ----------

  // "g" then a letter jumps to an area, GitHub/Linear style.
  const GOTO = {
    d: "/", n: "/datanets", m: "/models", f: "/finetunes", p: "/playground",
    l: "/labeling", r: "/rewards", s: "/settings/tokens", a: "/admin",
  };
  let pendingG = 0;

  function typing(e) {
    const t = e.target;
    return t instanceof HTMLElement &&
      (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  function onKey(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    if ($("dialog[open]")) return;
    if (e.key === "?") {
      const d = $("#shortcuts-dialog");
      if (d && d.showModal) { e.preventDefault(); d.showModal(); }
      return;
    }
    if (e.key === "t") { toggleTheme(); return; }
    if (e.key === "g") { pendingG = Date.now(); return; }
    if (pendingG && Date.now() - pendingG < 1200 && GOTO[e.key]) {
      pendingG = 0;
      const link = $(`.sidebar a[href="${GOTO[e.key]}"]`);
      // Only go where the sidebar offers to go (Admin is absent for non-admins).
      if (link) { e.preventDefault(); window.location.assign(link.href); }
      return;
    }
    pendingG = 0;
  }

  // ---------- mobile navigation ----------

  function setNav(open) {
    const app = $(".app");
    if (!app) return;
    app.classList.toggle("nav-open", open);
    const btn = $(".menu-button");
    if (btn) btn.setAttribute("aria-expanded", String(open));
    if (open) { const first = $(".sidebar a"); if (first) first.focus(); }
  }

  // ---------- wiring ----------

  document.addEventListener("click", (e) => {
    const t = e.target instanceof Element ? e.target : null;
    if (!t) return;
    const copy = t.closest("[data-copy]");
    if (copy) { e.preventDefault(); onCopy(copy); return; }
    if (t.closest("[data-theme-toggle]")) { toggleTheme(); return; }
    const dismiss = t.closest("[data-dismiss-toast]");
    if (dismiss) { dismissToast(dismiss.closest(".toast")); return; }
    if (t.closest(".menu-button")) { setNav(!$(".app.nav-open")); return; }
    if (t.closest(".scrim")) { setNav(false); return; }
    const close = t.closest("[data-close-dialog]");
    if (close) { const d = close.closest("dialog"); if (d) d.close(close.value || ""); }
  });

  document.addEventListener("submit", confirmSubmit, true);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && $(".app.nav-open")) { setNav(false); return; }
    onKey(e);
  });

  function init(scope) {
    renderTimes(scope);
    for (const t of $$(".toast", scope)) armToast(t);
  }

  // htmx integration: new content gets the same treatment, server-sent
  // HX-Trigger {"toast":{"kind":"success","message":"…"}} shows a toast, and
  // failed requests say so instead of silently doing nothing.
  document.addEventListener("htmx:afterSettle", (e) => {
    init(e.target);
    // A freshly created secret is shown once: bring it into view and put
    // keyboard focus on its copy button.
    const secret = e.target instanceof Element && e.target.querySelector("#new-token");
    if (secret) {
      secret.scrollIntoView({ block: "center", behavior: "smooth" });
      const copy = secret.parentElement && secret.parentElement.querySelector("[data-copy]");
      if (copy) copy.focus({ preventScroll: true });
      announce("Token created. Copy it now; it will not be shown again.");
    }
  });
  document.body.addEventListener("toast", (e) => {
    const d = e.detail || {};
    if (d.message) toast(d.message, d.kind);
  });
  document.addEventListener("htmx:responseError", (e) => {
    const xhr = e.detail && e.detail.xhr;
    let msg = "Something went wrong. Please try again.";
    if (xhr) {
      try {
        const body = JSON.parse(xhr.responseText);
        if (body && body.error && body.error.message) msg = body.error.message;
      } catch (_) {
        if (xhr.status === 404) msg = "That page or item was not found — it may have been removed.";
        else if (xhr.status === 413) msg = "That is too large for the server to accept.";
        else if (xhr.status === 403) msg = "You do not have permission to do that.";
        else if (xhr.status === 401) msg = "Your session has ended — sign in again.";
        else if (xhr.status >= 500) msg = `The server hit an error (${xhr.status}). Try again in a moment.`;
      }
    }
    toast(msg, "danger");
  });
  document.addEventListener("htmx:sendError", () => {
    toast("Could not reach the server — check your connection and try again.", "danger");
  });

  init(document);
  syncThemeButtons();
  setInterval(() => renderTimes(document), 60_000);
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", syncThemeButtons);

  // palette returns the chart colours of the current theme, for uPlot series.
  // The custom properties hold light-dark() pairs, so resolve each through a
  // probe element's computed colour.
  function palette() {
    const probe = document.createElement("span");
    document.body.appendChild(probe);
    const out = [1, 2, 3, 4, 5, 6].map((i) => {
      probe.style.color = `var(--chart-${i})`;
      return getComputedStyle(probe).color;
    });
    probe.remove();
    return out;
  }

  window.MF = Object.freeze({ toast, relative, palette, setTheme, announce });
})();
