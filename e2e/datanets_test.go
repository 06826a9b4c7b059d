package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// confirm clicks a button whose form asks for confirmation, then the
// dialog's confirm button.
func confirm(t *testing.T, ctx context.Context, button string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(button)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-dialog [data-confirm-ok]`)),
		chromedp.Click(chromedp.CSS(`#confirm-dialog [data-confirm-ok]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
}

// TestBrowserDatanetFlow: an owner creates a Datanet in the wizard,
// publishes it, uploads a JSONL file (progress bar, then the live report
// turns from processing to in review without a reload), accepts it, and
// publishes version 1, which then shows on the Datanet page with its
// Merkle root.
func TestBrowserDatanetFlow(t *testing.T) {
	owner := newWallet(t)
	srv := startServer(t)
	ctx := newBrowser(t)
	owner.inject(t, ctx, 1337)
	signIn(t, ctx, srv, owner)

	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/datanets/new"),
		chromedp.WaitVisible(chromedp.CSS(`#dn-name`)),
		chromedp.SendKeys(chromedp.CSS(`#dn-name`), "Harbour pilot questions"),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "datanet-new")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form.dn-form button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "created as a draft", "Datanet created")
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(loc, "/datanets/harbour-pilot-questions") {
		t.Fatalf("after create at %s", loc)
	}
	confirm(t, ctx, `form[action$="/publish"] button[type="submit"]`)
	waitText(t, ctx, "is published", "Datanet published")

	// Upload a file through the contribute page.
	file := filepath.Join(t.TempDir(), "pilots.jsonl")
	lines := []string{
		`{"instruction":"What does a harbour pilot do?","response":"Guides ships through dangerous or congested waters into and out of port."}`,
		`{"instruction":"When must a pilot board?","response":"Before the vessel enters the compulsory pilotage area."}`,
		`{"instruction":"Which flag signals a pilot on board?","response":"Flag H, white and red vertical halves."}`,
		`{"broken": true`,
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(loc+"/contribute"),
		chromedp.WaitVisible(chromedp.CSS(`[data-upload-submit]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`form[data-upload] input[type="file"]`), []string{file}),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "datanet-contribute")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-upload-submit]`))); err != nil {
		t.Fatal(err)
	}
	// The report page updates itself until the contribution waits for review.
	waitText(t, ctx, "in review", "live contribution report")
	loc2, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc2, "/contributions/") {
		t.Fatalf("after upload at %s", loc2)
	}
	waitText(t, ctx, "malformed JSON", "rejected line reported")
	screenshot(t, ctx, "contribution-report")

	err = chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`[data-review="accept"]`)),
		chromedp.Click(chromedp.CSS(`[data-review="accept"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "Accepted 3 records", "accepted")

	if err := chromedp.Do(ctx, chromedp.Navigate(loc), chromedp.WaitVisible(chromedp.CSS(`[data-publish-version="1"]`))); err != nil {
		t.Fatal(err)
	}
	confirm(t, ctx, `[data-publish-version="1"]`)
	waitText(t, ctx, "Published version 1", "version published")
	waitText(t, ctx, "0x", "Merkle root shown")
	screenshot(t, ctx, "datanet-versions")
	if err := chromedp.Do(ctx, chromedp.Navigate(loc+"?tab=records")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "harbour pilot", "record browser")
	screenshot(t, ctx, "datanet-records")
}
