// upload.js — contributions to a Datanet.
//
// 1. Forms marked data-upload send their file with XMLHttpRequest so the
//    page can show real upload progress (bytes sent of total, percent,
//    MB/s) from the upload's progress events. The file's size is checked
//    against data-max-bytes before anything is sent. The server answers
//    202 {"id","status","url"} and the browser goes to url, the
//    contribution's report; a 4xx answer's {"error":{"message"}} is shown
//    next to the file input. Without JavaScript the form posts normally
//    and the server redirects to the report.
// 2. Files can be dropped on the [data-dropzone] label.
// 3. On a contribution report, when the live fragment (swapped in by the
//    htmx SSE extension) reaches a final status, the rest of the page —
//    review actions, records — is fetched once so it matches.
//
// No inline handlers (the CSP forbids them); plain ES2020, no build step.
(() => {
  "use strict";

  const $ = (sel, el = document) => el.querySelector(sel);

  // formatBytes writes decimal units like the server does: 25 MB, 1.5 kB.
  function formatBytes(n) {
    if (!Number.isFinite(n) || n < 1000) return `${Math.max(0, Math.round(n || 0))} B`;
    const units = ["kB", "MB", "GB", "TB"];
    let v = n / 1000;
    let i = 0;
    while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    const s = v >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
    return `${s} ${units[i]}`;
  }

  // Speed over a sliding window of recent progress samples, so the figure
  // follows the connection rather than the average since the start.
  function speedMeter(windowMs = 3000) {
    const samples = [];
    return (loaded, now = performance.now()) => {
      samples.push([now, loaded]);
      while (samples.length > 2 && now - samples[0][0] > windowMs) samples.shift();
      const [t0, b0] = samples[0];
      const dt = (now - t0) / 1000;
      return dt > 0.05 ? (loaded - b0) / dt : 0;
    };
  }

  function errorMessage(xhr) {
    try {
      const body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) return body.error.message;
    } catch (_) { /* not JSON */ }
    switch (xhr.status) {
      case 413: return "That file is larger than the server accepts.";
      case 401: return "Your session has ended — sign in again, then upload.";
      case 403: return "You do not have permission to contribute to this Datanet.";
      case 404: return "This Datanet was not found — it may have been removed.";
      case 0: return "The connection was lost during the upload. Check your network and try again.";
    }
    if (xhr.status >= 500) return `The server hit an error (${xhr.status}). Try again in a moment.`;
    return `The upload was refused (${xhr.status}).`;
  }

  function setupUpload(form) {
    if (form.dataset.uploadReady) return;
    form.dataset.uploadReady = "1";
    const input = $('input[type="file"]', form);
    const errBox = $("[data-upload-error]", form);
    const errText = $("[data-upload-error-text]", form);
    const box = $("[data-upload-progress]", form);
    const bar = $("[data-upload-bar]", form);
    const nameEl = $("[data-upload-name]", form);
    const numbers = $("[data-upload-numbers]", form);
    const submit = $("[data-upload-submit]", form);
    const cancel = $("[data-upload-cancel]", form);
    const choice = $("[data-upload-choice]", form);
    const zone = $("[data-dropzone]", form);
    const maxBytes = Number(form.dataset.maxBytes) || 0;
    let xhr = null;

    const showError = (msg) => {
      if (!errBox) { if (window.MF) window.MF.toast(msg, "danger"); return; }
      errText.textContent = msg;
      errBox.hidden = false;
      input.setAttribute("aria-invalid", "true");
    };
    const clearError = () => {
      if (errBox) errBox.hidden = true;
      input.setAttribute("aria-invalid", "false");
    };
    const busy = (on) => {
      submit.disabled = on;
      submit.setAttribute("aria-busy", String(on));
      input.disabled = on;
      if (cancel) cancel.hidden = !on;
      form.classList.toggle("is-uploading", on);
    };

    // tooBig reports the size problem in the user's terms, or "".
    const tooBig = (file) => maxBytes > 0 && file.size > maxBytes
      ? `${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(maxBytes)}. Split it into smaller files and upload them one by one.`
      : "";

    const showChoice = () => {
      clearError();
      const f = input.files && input.files[0];
      if (choice) choice.textContent = f ? `${f.name} · ${formatBytes(f.size)}` : "Choose a file or drop it here";
      if (zone) zone.classList.toggle("has-file", !!f);
      if (f) { const msg = tooBig(f); if (msg) showError(msg); }
    };
    input.addEventListener("change", showChoice);

    if (zone) {
      const over = (on) => (e) => { e.preventDefault(); zone.classList.toggle("is-over", on); };
      zone.addEventListener("dragenter", over(true));
      zone.addEventListener("dragover", over(true));
      zone.addEventListener("dragleave", over(false));
      zone.addEventListener("drop", (e) => {
        e.preventDefault();
        zone.classList.remove("is-over");
        const files = e.dataTransfer && e.dataTransfer.files;
        if (!files || files.length === 0) return;
        if (files.length > 1) { showError("Drop one file at a time: each file is its own contribution."); return; }
        input.files = files;
        showChoice();
      });
    }

    if (cancel) cancel.addEventListener("click", () => { if (xhr) xhr.abort(); });

    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (xhr) return;
      clearError();
      const file = input.files && input.files[0];
      if (!file) { showError("Choose a file to upload first."); input.focus(); return; }
      if (file.size === 0) { showError(`${file.name} is empty.`); return; }
      const big = tooBig(file);
      if (big) { showError(big); return; }

      const data = new FormData(form);
      const total = file.size;
      const speed = speedMeter();
      const started = performance.now();
      nameEl.textContent = `Uploading ${file.name}`;
      numbers.textContent = `0 B of ${formatBytes(total)} · 0%`;
      bar.max = total;
      bar.value = 0;
      bar.classList.remove("is-success", "is-danger");
      box.hidden = false;
      busy(true);

      xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");

      xhr.upload.addEventListener("progress", (ev) => {
        // ev.total includes the multipart envelope; scale to the file so
        // the numbers match what the user chose.
        const frac = ev.lengthComputable && ev.total > 0 ? ev.loaded / ev.total : 0;
        const sent = Math.min(total, Math.round(frac * total));
        const bps = speed(sent);
        bar.value = sent;
        const pct = Math.floor(frac * 100);
        numbers.textContent = `${formatBytes(sent)} of ${formatBytes(total)} · ${pct}%` +
          (bps > 0 ? ` · ${(bps / 1e6).toFixed(bps >= 1e7 ? 0 : 1)} MB/s` : "");
      });
      xhr.upload.addEventListener("load", () => {
        bar.value = total;
        const secs = (performance.now() - started) / 1000;
        numbers.textContent = `${formatBytes(total)} · 100%` + (secs > 0.05 ? ` · ${(total / 1e6 / secs).toFixed(1)} MB/s average` : "");
        nameEl.textContent = `Uploaded ${file.name} — storing and queueing the checks…`;
      });

      xhr.addEventListener("load", () => {
        const x = xhr;
        xhr = null;
        if (x.status >= 200 && x.status < 300) {
          let url = "";
          try {
            const body = JSON.parse(x.responseText);
            if (body && typeof body.url === "string") url = body.url;
          } catch (_) {
            // A redirect followed to the report page answers HTML.
            if (x.responseURL && x.responseURL !== form.action) url = x.responseURL;
          }
          bar.classList.add("is-success");
          if (url) {
            nameEl.textContent = `Uploaded ${file.name}. Opening the report…`;
            window.location.assign(url);
            return;
          }
          busy(false);
          showError("The upload finished but the server did not say where its report is. Look under the Datanet's Contributions tab.");
          return;
        }
        bar.classList.add("is-danger");
        busy(false);
        box.hidden = true;
        showError(errorMessage(x));
      });
      xhr.addEventListener("error", () => {
        const x = xhr;
        xhr = null;
        busy(false);
        box.hidden = true;
        showError(errorMessage(x || { status: 0, responseText: "" }));
      });
      xhr.addEventListener("abort", () => {
        xhr = null;
        busy(false);
        box.hidden = true;
        if (window.MF) window.MF.announce("Upload cancelled");
      });

      xhr.send(data);
    });
  }

  function init(scope = document) {
    for (const f of scope.querySelectorAll("form[data-upload]")) setupUpload(f);
  }

  // When the SSE-driven fragment reaches a final status, bring the rest of
  // the report up to date once (review forms and records appear only then).
  let refreshed = false;
  document.addEventListener("htmx:load", (e) => {
    const el = e.detail && e.detail.elt;
    if (!(el instanceof Element)) return;
    init(el);
    if (refreshed || el.id !== "contribution-live" || el.dataset.final !== "true") return;
    refreshed = true;
    if (window.htmx && document.getElementById("contribution")) {
      window.htmx.ajax("GET", window.location.pathname + window.location.search, {
        target: "#contribution", select: "#contribution", swap: "outerHTML",
      });
    }
  });

  init();
  window.MFUpload = Object.freeze({ formatBytes });
})();
