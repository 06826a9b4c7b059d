package handlers

import (
	"fmt"
	"net/http"
	"strings"
)

// Server-Sent Events helpers shared by the live pages (contribution
// reports, fine-tune runs) and the streaming generate API.

// sseHeaders starts an event-stream response: no caching, and no proxy
// buffering (nginx honours X-Accel-Buffering).
func sseHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
}

// sseStream prepares an SSE response; false when the connection cannot
// stream.
func sseStream(w http.ResponseWriter) (http.Flusher, bool) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		return nil, false
	}
	sseHeaders(w)
	flusher.Flush()
	return flusher, true
}

// writeSSE writes one event; data may span lines; id 0 writes no id.
func writeSSE(w http.ResponseWriter, event string, id int64, data string) {
	fmt.Fprintf(w, "event: %s\n", event)
	if id > 0 {
		fmt.Fprintf(w, "id: %d\n", id)
	}
	for _, line := range strings.Split(data, "\n") {
		fmt.Fprintf(w, "data: %s\n", line)
	}
	fmt.Fprint(w, "\n")
}
