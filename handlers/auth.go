package handlers

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/siwe"
	"github.com/modelfactory/modelfactory/store"
)

// NonceTTL is how long a sign-in request stays valid; it is also the
// message's Expiration Time.
const NonceTTL = 10 * time.Minute

// SignInStatement is the human sentence in every sign-in message.
const SignInStatement = "Sign in to ModelFactory. This request will not trigger a blockchain transaction or cost any gas."

// Nonce issues a single-use SIWE nonce with everything a wallet needs to
// compose the message. GET /auth/nonce[?address=0x…]
func (h *Handlers) Nonce(w http.ResponseWriter, r *http.Request) {
	resp := map[string]any{
		"domain":    h.PublicURL.Host,
		"uri":       h.PublicURL.Scheme + "://" + h.PublicURL.Host,
		"chainId":   h.Chain.ChainID,
		"version":   "1",
		"statement": SignInStatement,
	}
	if a := r.URL.Query().Get("address"); a != "" {
		if !common.IsHexAddress(a) || len(a) != 42 {
			h.Fail(w, r, problem(http.StatusBadRequest, "bad_address", "That is not an Ethereum address: it must be 0x followed by 40 hexadecimal digits."))
			return
		}
		resp["address"] = common.HexToAddress(a).Hex()
	}
	nonce := siwe.NewNonce()
	expires, err := h.Store.CreateNonce(r.Context(), nonce, NonceTTL)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	now := time.Now().UTC()
	resp["nonce"] = nonce
	resp["issuedAt"] = now.Format(time.RFC3339)
	resp["expirationTime"] = expires.UTC().Format(time.RFC3339)
	writeJSON(w, http.StatusOK, resp)
}

type verifyRequest struct {
	Message   string `json:"message"`
	Signature string `json:"signature"`
}

// Verify checks a signed SIWE message and starts a session.
// POST /auth/verify {"message","signature"}
func (h *Handlers) Verify(w http.ResponseWriter, r *http.Request) {
	var req verifyRequest
	if err := decodeJSON(r, &req); err != nil {
		h.Fail(w, r, err)
		return
	}
	if req.Message == "" || req.Signature == "" {
		h.Fail(w, r, problem(http.StatusBadRequest, "missing_fields", "Both the signed message and the signature are required."))
		return
	}
	sig, err := siwe.DecodeSignature(req.Signature)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	msg, err := h.verifier.Verify(r.Context(), req.Message, sig)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	// Only now, with a valid signature, spend the nonce: a forged request
	// cannot burn someone else's sign-in.
	ok, err := h.Store.ConsumeNonce(r.Context(), msg.Nonce)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if !ok {
		h.Fail(w, r, problem(http.StatusUnauthorized, "nonce_invalid", "This sign-in request was already used or has expired. Press Connect wallet to start again."))
		return
	}
	user, err := h.Store.UpsertUser(r.Context(), msg.Address.Hex())
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if user.BannedAt != nil {
		h.Fail(w, r, problem(http.StatusForbidden, "banned", "This wallet has been suspended from ModelFactory."))
		return
	}
	old := ""
	if c, err := r.Cookie(SessionCookie); err == nil {
		old = c.Value
	}
	secret, err := h.Store.CreateSession(r.Context(), user.ID, h.SessionTTL, old, r.UserAgent(), clientIP(r))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	h.setSessionCookie(w, secret, h.SessionTTL)
	h.Log.InfoContext(r.Context(), "signed in", "address", user.Address)
	v := h.NewViewer(user, "session")
	writeJSON(w, http.StatusOK, map[string]any{"address": user.Address, "roles": v.Roles})
}

// Logout ends the session. POST /auth/logout (form or fetch).
func (h *Handlers) Logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := h.Store.DeleteSession(r.Context(), c.Value); err != nil {
			h.Fail(w, r, err)
			return
		}
	}
	h.setSessionCookie(w, "", -1)
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	addFlash(w, r, "info", "You are signed out.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *Handlers) setSessionCookie(w http.ResponseWriter, value string, ttl time.Duration) {
	c := &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   h.PublicURL.Scheme == "https",
		SameSite: http.SameSiteLaxMode,
	}
	if ttl < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(ttl.Seconds())
	}
	http.SetCookie(w, c)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// DevWallet returns the local test wallet's address (MF_DEV=1 only).
// POST /auth/dev/wallet
func (h *Handlers) DevWallet(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"address": crypto.PubkeyToAddress(h.DevKey.PublicKey).Hex()})
}

// DevSign signs a sign-in message for this site with the local test wallet
// (MF_DEV=1 only). It refuses anything that is not a SIWE message for this
// domain, so it cannot be used to sign arbitrary text.
// POST /auth/dev/sign {"message"}
func (h *Handlers) DevSign(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Message string `json:"message"`
	}
	if err := decodeJSON(r, &req); err != nil {
		h.Fail(w, r, err)
		return
	}
	msg, err := siwe.Parse(req.Message)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if !strings.EqualFold(msg.Domain, h.PublicURL.Host) {
		h.Fail(w, r, problem(http.StatusBadRequest, "domain_mismatch", "The test wallet only signs sign-in messages for this site."))
		return
	}
	sig, err := crypto.Sign(accounts.TextHash([]byte(req.Message)), h.DevKey)
	if err != nil {
		h.Fail(w, r, errors.Join(errors.New("dev sign"), err))
		return
	}
	sig[64] += 27
	writeJSON(w, http.StatusOK, map[string]string{"signature": hexutil.Encode(sig)})
}

// viewerFromRequest authenticates a request by bearer token or session
// cookie. It returns nil, nil for anonymous requests and a Problem for a
// bad bearer token (scripts must hear that their token is wrong).
func (h *Handlers) viewerFromRequest(r *http.Request) (*Viewer, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return nil, problem(http.StatusUnauthorized, "bad_authorization", "Use 'Authorization: Bearer <token>' with a personal access token.")
		}
		u, err := h.Store.APITokenUser(r.Context(), strings.TrimSpace(token))
		if errors.Is(err, store.ErrNotFound) {
			return nil, problem(http.StatusUnauthorized, "bad_token", "This access token is unknown, expired or revoked. Create a new one under Settings → API tokens.")
		}
		if err != nil {
			return nil, err
		}
		return h.NewViewer(u, "token"), nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	u, _, err := h.Store.SessionUser(r.Context(), c.Value)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return h.NewViewer(u, "session"), nil
}

// Authenticate is middleware that attaches the viewer (if any) to the request.
func (h *Handlers) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := h.viewerFromRequest(r)
		if err != nil {
			h.Fail(w, r, err)
			return
		}
		if v != nil {
			r = r.WithContext(WithViewer(r.Context(), v))
		}
		next.ServeHTTP(w, r)
	})
}

// RequireRole is the one middleware that decides access: signed-out
// requests are sent to sign in (401 for APIs), signed-in ones without the
// role get 403.
func (h *Handlers) RequireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := ViewerFrom(r.Context())
			if v == nil {
				h.Unauthorized(w, r)
				return
			}
			if !v.HasRole(role) {
				h.Forbidden(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
