// playground.js — the Playground's side-by-side chat.
//
// One prompt goes to both columns (the base model and the fine-tuned one)
// at the same moment. Each column POSTs to its generate API with
// Accept: text/event-stream and reads the streamed body with fetch's
// reader: "token" events append text, one "done" event carries the final
// figures, an "error" event (or a JSON error answer before any token) is
// shown in the column and, for bad fields, next to the field. Each column
// shows its time to first token (measured here, from sending to the first
// text) and tokens per second (measured by the server after the first
// token). Stop aborts both requests; the server stops generating when the
// connection closes. The conversation stays on the page until cleared.
//
// No inline handlers (the CSP forbids them); plain ES2020, no build step.
(() => {
  "use strict";

  const root = document.getElementById("pg");
  const picker = document.getElementById("pg-model");
  if (picker) picker.addEventListener("change", () => picker.form.requestSubmit());
  if (!root) return;

  const form = document.getElementById("pg-form");
  const prompt = document.getElementById("pg-prompt");
  const send = document.getElementById("pg-send");
  const stop = document.getElementById("pg-stop");
  const clear = document.getElementById("pg-clear");
  const instruction = document.getElementById("pg-instruction");
  const formError = document.getElementById("pg-form-error");
  const sides = Array.from(root.querySelectorAll(".pg-side"));
  let controllers = [];

  const ms = (v) => `${Math.round(v)} ms`;

  function numberField(name) {
    const el = document.getElementById(`pg-${name}`);
    if (!el || el.value.trim() === "") return null; // the server's default
    const v = Number(el.value);
    return Number.isFinite(v) ? v : null;
  }

  function clearErrors() {
    root.querySelectorAll(".field-error[data-js]").forEach((e) => { e.hidden = true; e.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  }

  // showError puts each field's message next to its input, or the message
  // under the form when no field is named.
  function showError(err) {
    const fields = err.fields || {};
    let shown = false;
    for (const [name, message] of Object.entries(fields)) {
      const box = document.getElementById(`pg-${name}-error`);
      const input = document.getElementById(`pg-${name}`);
      if (!box) continue;
      box.textContent = message;
      box.hidden = false;
      if (input) input.setAttribute("aria-invalid", "true");
      shown = true;
    }
    if (!shown && err.message) {
      formError.textContent = err.message;
      formError.hidden = false;
    }
  }

  function message(log, role, text) {
    const el = document.createElement("div");
    el.className = `pg-msg pg-msg-${role}`;
    el.textContent = text;
    log.append(el);
    log.scrollTop = log.scrollHeight;
    return el;
  }

  // frames splits buffered Server-Sent Events text into complete events.
  function frames(buf) {
    const out = [];
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message";
      let data = "";
      for (const line of raw.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
      }
      out.push({ event, data: data ? JSON.parse(data) : {} });
    }
    return [out, buf];
  }

  async function run(side, body, signal) {
    const log = side.querySelector("[data-log]");
    const stats = side.querySelector("[data-stats]");
    const empty = log.querySelector(".pg-empty");
    if (empty) empty.remove();
    message(log, "user", body.prompt);
    const out = message(log, "model", "");
    out.classList.add("pg-streaming");
    stats.removeAttribute("data-ttft");
    stats.textContent = "Waiting for the first token…";
    const t0 = performance.now();
    let first = 0;
    const ttft = () => (first ? `TTFT ${ms(first - t0)}` : "");
    let failure = null;
    try {
      const res = await fetch(side.dataset.endpoint, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal,
      });
      const type = res.headers.get("Content-Type") || "";
      if (!res.ok || !type.startsWith("text/event-stream")) {
        const j = await res.json().catch(() => ({}));
        failure = j.error || { message: `The server answered ${res.status}.` };
        return failure;
      }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        let events;
        [events, buf] = frames(buf + dec.decode(value, { stream: true }));
        for (const ev of events) {
          if (ev.event === "token") {
            if (!first) {
              first = performance.now();
              stats.dataset.ttft = String(Math.round(first - t0));
              stats.textContent = ttft();
            }
            out.textContent += ev.data.text;
            log.scrollTop = log.scrollHeight;
          } else if (ev.event === "done") {
            const d = ev.data;
            const parts = [ttft() || `TTFT ${ms(d.timeToFirstTokenMs)}`];
            if (d.tokensPerSecond > 0) parts.push(`${d.tokensPerSecond.toFixed(0)} tok/s`);
            parts.push(`${d.tokens} tokens`);
            if (d.finishReason === "length") parts.push("hit max tokens");
            stats.textContent = parts.join(" · ");
            if (!out.textContent) out.textContent = "(the model ended its answer at once)";
          } else if (ev.event === "error") {
            failure = ev.data;
          }
        }
      }
      return failure;
    } catch (err) {
      if (err.name === "AbortError") {
        stats.textContent = [ttft(), "Stopped"].filter(Boolean).join(" · ");
        out.classList.add("pg-msg-stopped");
        return null;
      }
      failure = { message: "The connection to the server failed. Check your network and try again." };
      return failure;
    } finally {
      out.classList.remove("pg-streaming");
      if (failure) {
        out.classList.add("pg-msg-error");
        out.textContent = failure.message || "Generation failed.";
        stats.textContent = "Failed";
      }
    }
  }

  function busy(on) {
    send.disabled = on;
    stop.disabled = !on;
    root.classList.toggle("pg-busy", on);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (controllers.length) return;
    clearErrors();
    const text = prompt.value;
    const body = {
      prompt: text,
      maxTokens: numberField("maxTokens"),
      temperature: numberField("temperature"),
      topP: numberField("topP"),
      format: instruction && instruction.checked ? "instruction" : "raw",
      // One seed for both sides, so the comparison is like for like.
      seed: Math.floor(Math.random() * 2 ** 31),
    };
    for (const k of ["maxTokens", "temperature", "topP"]) if (body[k] === null) delete body[k];
    controllers = sides.map(() => new AbortController());
    busy(true);
    const results = await Promise.all(sides.map((s, i) => run(s, body, controllers[i].signal)));
    controllers = [];
    busy(false);
    const failed = results.find((r) => r && (r.fields || r.message));
    if (failed) showError(failed);
    else prompt.value = "";
    prompt.focus();
  });

  stop.addEventListener("click", () => controllers.forEach((c) => c.abort()));

  clear.addEventListener("click", () => {
    for (const s of sides) {
      const log = s.querySelector("[data-log]");
      log.querySelectorAll(".pg-msg").forEach((m) => m.remove());
      s.querySelector("[data-stats]").textContent = "Ready";
    }
    clearErrors();
  });

  prompt.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
})();
