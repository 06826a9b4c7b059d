package ingest

import "testing"

func TestFindPII(t *testing.T) {
	t.Parallel()
	found := []struct{ text, kind, match string }{
		{"write to jane.doe+news@example.co.uk today", PIIEmail, "jane.doe+news@example.co.uk"},
		{"call +44 20 7946 0958 now", PIIPhone, "+44 20 7946 0958"},
		{"call (555) 123-4567.", PIIPhone, "(555) 123-4567"},
		{"call 555-123-4567 or", PIIPhone, "555-123-4567"},
		{"tel 1-800-555-1234", PIIPhone, "1-800-555-1234"},
		{"call +1 415 555 2671", PIIPhone, "+1 415 555 2671"},
		{"key AKIAIOSFODNN7EXAMPLE here", PIIAWSKey, "AKIAIOSFODNN7EXAMPLE"},
		{"token ghp_16C7e42F292c6912E7710c838347Ae178B4a here", PIIGitHubToken, "ghp_16C7e42F292c6912E7710c838347Ae178B4a"},
		{"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", PIISlackToken, "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"},
		{"OPENAI_API_KEY=sk-proj-4fJk2LmN8pQrS7tUvWxYz0123456789abc", PIIAPIKey, "sk-proj-4fJk2LmN8pQrS7tUvWxYz0123456789abc"},
		{"stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", PIIAPIKey, "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", PIIPrivateKey, "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"},
		{"pk 4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318 x", PIIHexPrivateKey, "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"},
	}
	for _, tt := range found {
		flags := FindPII("text", tt.text)
		ok := false
		for _, f := range flags {
			if f.Kind == tt.kind && tt.text[f.Start:f.End] == tt.match && f.Field == "text" {
				ok = true
			}
		}
		if !ok {
			t.Errorf("FindPII(%q) = %+v, want %s %q", tt.text, flags, tt.kind, tt.match)
		}
	}
	clean := []string{
		"The meeting is on 2024-01-15 at 10:30.",
		"Order number 1234567890 shipped.",
		"Population: 8,000,000,000 people in 2023.",
		"Version 1.2.3 and IP 192.168.100.200 are fine.",
		"ISBN 978-3-16-148410-0",
		"Commit 3f786850e387550fdab836ed7e6dc881de23001b is a git SHA.",
		"UUID 123e4567-e89b-12d3-a456-426614174000",
		"Pi is 3.14159265358979323846 roughly.",
		"Use scikit-learn (sk-learn) for this.",
		"Reply to @alice on the forum.",
		"user@localhost is not routable",
		"-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----",
		"zeros 0000000000000000000000000000000000000000000000000000000000000000",
		"The price was $1,234.56 on 12/31/2023.",
	}
	for _, s := range clean {
		if flags := FindPII("text", s); len(flags) > 0 {
			t.Errorf("false positive in %q: %+v", s, flags)
		}
	}
}
