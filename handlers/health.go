package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Healthz says the process is alive. GET /healthz
func (h *Handlers) Healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Readyz checks every component concurrently, each within 3 s, and answers
// 200 when all are ok, 503 otherwise. GET /readyz
func (h *Handlers) Readyz(w http.ResponseWriter, r *http.Request) {
	type result struct {
		Status    string `json:"status"`
		LatencyMS int64  `json:"latency_ms"`
		Error     string `json:"error,omitempty"`
	}
	results := make(map[string]result, len(h.Ready))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range h.Ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			start := time.Now()
			err := c.Check(ctx)
			res := result{Status: "ok", LatencyMS: time.Since(start).Milliseconds()}
			if err != nil {
				res.Status, res.Error = "error", err.Error()
				h.Log.WarnContext(r.Context(), "readiness check failed", "component", c.Name, "err", err)
			}
			mu.Lock()
			results[c.Name] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	status, code := "ok", http.StatusOK
	for _, res := range results {
		if res.Status != "ok" {
			status, code = "unavailable", http.StatusServiceUnavailable
		}
	}
	writeJSON(w, code, map[string]any{"status": status, "components": results})
}
