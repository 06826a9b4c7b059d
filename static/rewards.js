// rewards.js — the Claim button of the Rewards page.
//
// The server provides the calldata of claim(account, cumulativeAmount,
// proof) for the distributor's current root (GET /api/v1/rewards/claim);
// the user's EIP-1193 wallet sends it with eth_sendTransaction. The page
// then waits for the receipt and for the server to see the Claimed event
// (GET /api/v1/rewards reconciles claims from the chain, never from the
// browser) before reloading.
(() => {
  "use strict";

  const button = document.getElementById("claim-button");
  const status = document.getElementById("claim-status");
  if (!button || !status) return;

  const say = (text, kind) => {
    status.textContent = text;
    status.dataset.kind = kind || "info";
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function getJSON(url) {
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error((body && body.error && body.error.message) || `The server answered ${res.status}.`);
    return body;
  }

  async function ensureChain(eth, chainId) {
    const want = "0x" + BigInt(chainId).toString(16);
    const got = await eth.request({ method: "eth_chainId" });
    if (BigInt(got) === BigInt(want)) return;
    await eth.request({ method: "wallet_switchEthereumChain", params: [{ chainId: want }] });
  }

  async function waitReceipt(eth, hash) {
    for (let i = 0; i < 600; i++) {
      const r = await eth.request({ method: "eth_getTransactionReceipt", params: [hash] });
      if (r) return r;
      await sleep(1000);
    }
    throw new Error("The transaction was not mined within 10 minutes. Check your wallet.");
  }

  async function claim() {
    const eth = window.ethereum;
    if (!eth) throw new Error("No browser wallet found. Install MetaMask or another EIP-1193 wallet.");
    say("Preparing your claim…");
    const c = await getJSON("/api/v1/rewards/claim");
    const before = BigInt((await getJSON("/api/v1/rewards")).claimedWei);
    const accounts = await eth.request({ method: "eth_requestAccounts" });
    const from = accounts && accounts[0];
    if (!from) throw new Error("Your wallet did not share an account.");
    await ensureChain(eth, c.chainId);
    say("Confirm the claim in your wallet…");
    const hash = await eth.request({
      method: "eth_sendTransaction",
      params: [{ from, to: c.distributor, data: c.calldata }],
    });
    say(`Claim sent (${hash.slice(0, 10)}…); waiting for it to be mined…`);
    const receipt = await waitReceipt(eth, hash);
    if (receipt.status !== "0x1" && receipt.status !== 1) throw new Error("The claim transaction reverted.");
    say("Mined. Waiting for the server to see the claim on chain…");
    for (let i = 0; i < 120; i++) {
      const r = await getJSON("/api/v1/rewards");
      if (BigInt(r.claimedWei) > before) {
        say("Claimed — the OPEN is in your wallet.", "success");
        status.dataset.claimTx = hash;
        await sleep(800);
        window.location.reload();
        return;
      }
      await sleep(1000);
    }
    throw new Error("The claim is mined but the server has not seen it yet. Reload in a minute.");
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await claim();
    } catch (e) {
      const msg = e && e.code === 4001 ? "You rejected the transaction in your wallet." : (e && e.message) || String(e);
      say(msg, "danger");
      button.disabled = false;
    }
  });
})();
