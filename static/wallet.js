// wallet.js — Sign-In with Ethereum (EIP-4361) in the browser.
//
// Buttons marked data-siwe="wallet" use the injected EIP-1193 provider
// (window.ethereum); data-siwe="dev" (rendered only with MF_DEV=1) uses the
// server's local test wallet. Both carry data-chain-id, data-chain-name and
// data-rpc-url from the server. Status and errors go to #wallet-status
// (aria-live). The server parses the message strictly, so composeMessage must
// match EIP-4361 byte for byte.
(() => {
  "use strict";

  const USER_REJECTED = 4001;
  const UNKNOWN_CHAIN = 4902;

  class WalletError extends Error {
    constructor(message, opts = {}) {
      super(message);
      this.kind = opts.kind || "danger";
      this.action = opts.action || null; // {label, run}
    }
  }

  // composeMessage builds the EIP-4361 text from the server's nonce response:
  // header, address, blank line, statement, blank line, then the fields, with
  // no trailing newline.
  function composeMessage(n) {
    return [
      `${n.domain} wants you to sign in with your Ethereum account:`,
      n.address,
      "",
      n.statement,
      "",
      `URI: ${n.uri}`,
      `Version: ${n.version || "1"}`,
      `Chain ID: ${n.chainId}`,
      `Nonce: ${n.nonce}`,
      `Issued At: ${n.issuedAt}`,
      `Expiration Time: ${n.expirationTime}`,
    ].join("\n");
  }

  // hexUtf8 encodes text as 0x-prefixed hex of its UTF-8 bytes, the form
  // personal_sign expects.
  function hexUtf8(text) {
    let out = "0x";
    for (const b of new TextEncoder().encode(text)) out += b.toString(16).padStart(2, "0");
    return out;
  }

  function parseChainId(v) {
    if (typeof v === "number") return BigInt(v);
    if (typeof v !== "string" || v === "") return null;
    try { return BigInt(v); } catch (_) { return null; } // handles "0x539" and "1337"
  }

  // safeNext returns the ?next= target when it is a same-origin path.
  function safeNext() {
    const next = new URLSearchParams(window.location.search).get("next");
    if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
    try {
      const u = new URL(next, window.location.origin);
      return u.origin === window.location.origin ? u.pathname + u.search + u.hash : "/";
    } catch (_) {
      return "/";
    }
  }

  async function fetchJSON(url, opts = {}) {
    let res;
    try {
      res = await fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json", ...(opts.body ? { "Content-Type": "application/json" } : {}) },
        ...opts,
      });
    } catch (_) {
      throw new WalletError("Could not reach the server — check your connection and try again.");
    }
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) {
      const msg = body && body.error && body.error.message
        ? body.error.message
        : `The server refused the request (HTTP ${res.status}).`;
      throw new WalletError(msg);
    }
    return body || {};
  }

  // ---------- status area ----------

  function statusArea() { return document.getElementById("wallet-status"); }

  function showStatus(message, kind = "info", action = null) {
    const area = statusArea();
    if (!area) { if (window.MF) window.MF.toast(message, kind); return; }
    area.textContent = "";
    const box = document.createElement("div");
    box.className = `callout callout-${kind}`;
    box.setAttribute("role", kind === "danger" ? "alert" : "status");
    const body = document.createElement("div");
    body.className = "callout-body";
    const p = document.createElement("p");
    p.textContent = message;
    body.appendChild(p);
    if (action) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "btn btn-secondary btn-sm";
      b.textContent = action.label;
      b.addEventListener("click", action.run);
      const row = document.createElement("div");
      row.appendChild(b);
      body.appendChild(row);
    }
    box.appendChild(body);
    area.appendChild(box);
  }

  function clearStatus() { const a = statusArea(); if (a) a.textContent = ""; }

  // ---------- button state ----------

  function busy(btn, label) {
    if (!btn.dataset.label) btn.dataset.label = btn.querySelector(".btn-label")?.textContent || btn.textContent;
    btn.setAttribute("aria-busy", "true");
    btn.disabled = true;
    setLabel(btn, label);
  }

  function idle(btn) {
    btn.removeAttribute("aria-busy");
    btn.disabled = false;
    if (btn.dataset.label) setLabel(btn, btn.dataset.label);
  }

  function setLabel(btn, text) {
    const l = btn.querySelector(".btn-label");
    if (l) l.textContent = text; else btn.textContent = text;
  }

  function setAllDisabled(disabled) {
    for (const b of document.querySelectorAll("[data-siwe]")) if (!b.hasAttribute("aria-busy")) b.disabled = disabled;
  }

  // ---------- providers ----------

  function chainOf(btn) {
    return {
      id: parseChainId(btn.dataset.chainId),
      name: btn.dataset.chainName || "the ModelFactory network",
      rpcUrl: btn.dataset.rpcUrl || "",
    };
  }

  async function request(provider, method, params) {
    try {
      return await provider.request(params === undefined ? { method } : { method, params });
    } catch (err) {
      throw err && typeof err === "object" ? err : new Error(String(err));
    }
  }

  async function switchChain(provider, chain) {
    const hexId = "0x" + chain.id.toString(16);
    try {
      await request(provider, "wallet_switchEthereumChain", [{ chainId: hexId }]);
    } catch (err) {
      const code = err.code ?? err.data?.originalError?.code;
      if (code === UNKNOWN_CHAIN) {
        if (!chain.rpcUrl) throw new WalletError(`Your wallet does not know ${chain.name}. Add it by hand (chain ID ${chain.id}) and try again.`);
        await request(provider, "wallet_addEthereumChain", [{
          chainId: hexId,
          chainName: chain.name,
          rpcUrls: [chain.rpcUrl],
          nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
        }]);
        return;
      }
      if (code === USER_REJECTED) throw new WalletError(`You declined the network switch. ModelFactory needs ${chain.name} (chain ID ${chain.id}).`, { kind: "warning" });
      throw new WalletError(`Could not switch network: ${err.message || "unknown wallet error"}`);
    }
  }

  // The browser wallet: account and signature from the injected provider.
  function injectedWallet(btn) {
    const provider = window.ethereum;
    return {
      async account() {
        busy(btn, "Waiting for wallet…");
        let accounts;
        try {
          accounts = await request(provider, "eth_requestAccounts");
        } catch (err) {
          if (err.code === USER_REJECTED) throw new WalletError("You declined the connection request — nothing was shared.", { kind: "warning" });
          if (err.code === -32002) throw new WalletError("Your wallet already has a pending request — open the wallet extension to answer it.", { kind: "warning" });
          throw new WalletError(`Your wallet could not connect: ${err.message || "unknown error"}`);
        }
        if (!Array.isArray(accounts) || accounts.length === 0) throw new WalletError("Your wallet returned no account. Unlock it and try again.", { kind: "warning" });
        const chain = chainOf(btn);
        if (chain.id !== null) {
          const current = parseChainId(await request(provider, "eth_chainId"));
          if (current !== chain.id) {
            throw new WalletError(
              `Wrong network — your wallet is on chain ${current === null ? "unknown" : current}, ModelFactory runs on ${chain.name} (chain ID ${chain.id}).`,
              {
                kind: "warning",
                action: {
                  label: `Switch to ${chain.name}`,
                  run: async () => {
                    try {
                      await switchChain(provider, chain);
                      clearStatus();
                      signIn(btn);
                    } catch (e) {
                      showStatus(e.message, e.kind || "danger");
                    }
                  },
                },
              },
            );
          }
        }
        return accounts[0];
      },
      async sign(message, address) {
        busy(btn, "Sign the message in your wallet…");
        try {
          return await request(provider, "personal_sign", [hexUtf8(message), address]);
        } catch (err) {
          if (err.code === USER_REJECTED) throw new WalletError("You cancelled the signature request — nothing was sent.", { kind: "warning" });
          throw new WalletError(`Your wallet could not sign: ${err.message || "unknown error"}`);
        }
      },
    };
  }

  // The development test wallet: the server holds a local key (MF_DEV=1 only).
  function devWallet(btn) {
    return {
      async account() {
        busy(btn, "Preparing test wallet…");
        const r = await fetchJSON("/auth/dev/wallet", { method: "POST", body: "{}" });
        if (!r.address) throw new WalletError("The test wallet returned no address.");
        return r.address;
      },
      async sign(message) {
        busy(btn, "Signing with the test wallet…");
        const r = await fetchJSON("/auth/dev/sign", { method: "POST", body: JSON.stringify({ message }) });
        if (!r.signature) throw new WalletError("The test wallet returned no signature.");
        return r.signature;
      },
    };
  }

  // ---------- the flow ----------

  async function signIn(btn) {
    const mode = btn.dataset.siwe;
    clearStatus();
    if (mode !== "dev" && !window.ethereum) {
      const hasDev = document.querySelector('[data-siwe="dev"]');
      showStatus(
        "No browser wallet found — install MetaMask or another EIP-1193 wallet, then reload this page." +
          (hasDev ? " For development you can use the local test wallet below." : ""),
        "warning",
      );
      return;
    }
    const wallet = mode === "dev" ? devWallet(btn) : injectedWallet(btn);
    setAllDisabled(true);
    try {
      const account = await wallet.account();
      busy(btn, "Preparing sign-in…");
      const nonce = await fetchJSON("/auth/nonce?address=" + encodeURIComponent(account));
      // The server returns the EIP-55 checksummed address; wallets may give
      // lowercase and EIP-4361 requires the checksummed form.
      const address = nonce.address || account;
      const message = composeMessage({ ...nonce, address });
      const signature = await wallet.sign(message, account);
      busy(btn, "Verifying…");
      await fetchJSON("/auth/verify", { method: "POST", body: JSON.stringify({ message, signature }) });
      busy(btn, "Signed in — loading…");
      window.location.assign(safeNext());
    } catch (err) {
      idle(btn);
      setAllDisabled(false);
      if (err instanceof WalletError) showStatus(err.message, err.kind, err.action);
      else showStatus(`Sign-in failed: ${err && err.message ? err.message : "unexpected error"}`, "danger");
    }
  }

  document.addEventListener("click", (e) => {
    const btn = e.target instanceof Element ? e.target.closest("[data-siwe]") : null;
    if (!btn || btn.disabled) return;
    e.preventDefault();
    signIn(btn);
  });

  // Exposed for tests and for pages that want to start sign-in themselves.
  window.MFWallet = Object.freeze({ composeMessage, hexUtf8, safeNext, signIn });
})();
