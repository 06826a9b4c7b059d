package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserModeration: a member reports a record (from the records tab)
// and its Datanet (from its page); an admin opens the moderation queue from
// the admin home, removes the record (no longer served), then suspends the
// Datanet with a reason, typing its slug to confirm, and it disappears from
// /datanets for the admin and the reporter; the owner sees the
// notifications, with the reasons, from the top bar's bell; the audit log
// shows the decision.
func TestBrowserModeration(t *testing.T) {
	owner, reporter, admin := newWallet(t), newWallet(t), newWallet(t)
	srv := startServer(t, "MF_ADMIN_ADDRESSES="+admin.address())

	// The owner publishes a Datanet (over the API from the signed-in page;
	// the wizard has its own test).
	octx := newBrowser(t)
	owner.inject(t, octx, 1337)
	signIn(t, octx, srv, owner)
	if st, body := pageFetch(t, octx, "POST", "/api/v1/datanets", `{"name":"Lighthouse logs","summary":"Keeper journals, transcribed","license":"CC-BY-4.0","schema":"documents","visibility":"public","contributionPolicy":"open"}`); st != 201 {
		t.Fatalf("create Datanet: %d %s", st, body)
	}
	if st, body := pageFetch(t, octx, "POST", "/api/v1/datanets/lighthouse-logs/publish", ""); st != 200 {
		t.Fatalf("publish: %d %s", st, body)
	}

	// Two records, uploaded from the page (open policy: accepted at once).
	upload := `(async () => {
		const fd = new FormData();
		fd.append("file", new Blob([%q], {type: "application/x-ndjson"}), "log.jsonl");
		const r = await fetch("/api/v1/datanets/lighthouse-logs/contributions", {method: "POST", body: fd, headers: {"Accept": "application/json"}});
		return (await r.json()).id; })()`
	lines := `{"text":"1846-03-02. Fog all night; the lamp was kept lit until dawn."}` + "\n" + `{"text":"Keeper Hansen lives at 12 Quay Street with his two daughters."}`
	id, err := chromedp.Run(octx, chromedp.Evaluate[int](fmt.Sprintf(upload, lines), chromedp.EvalAwaitPromise))
	if err != nil || id == 0 {
		t.Fatalf("upload: %d %v", id, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body := pageFetch(t, octx, "GET", fmt.Sprintf("/api/v1/contributions/%d", id), "")
		if strings.Contains(body, `"status":"accepted"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("contribution never accepted: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A member reports the record with personal data from the records tab.
	rctx := newBrowser(t)
	reporter.inject(t, rctx, 1337)
	signIn(t, rctx, srv, reporter)
	if err := chromedp.Do(rctx, chromedp.Navigate(srv.URL+"/datanets/lighthouse-logs?tab=records")); err != nil {
		t.Fatal(err)
	}
	waitText(t, rctx, "Quay Street", "records tab")
	recTarget, err := chromedp.Run(rctx, chromedp.Evaluate[string](`[...document.querySelectorAll("tr")].find(tr => tr.innerText.includes("Quay Street")).querySelector("details[data-report]").dataset.report`))
	if err != nil || !strings.HasPrefix(recTarget, "record:0x") || !strings.HasSuffix(recTarget, "@lighthouse-logs") {
		t.Fatalf("record report target = %q, %v", recTarget, err)
	}
	recMenu := `details[data-report="` + recTarget + `"]`
	err = chromedp.Do(rctx,
		chromedp.Click(chromedp.CSS(recMenu+` > summary`)),
		chromedp.WaitVisible(chromedp.CSS(recMenu+` select`)),
		chromedp.SetValue(chromedp.CSS(recMenu+` select`), "personal_data"),
		chromedp.SendKeys(chromedp.CSS(recMenu+` textarea`), "Names a keeper's home address."),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, rctx, "moderation-report-record")
	if err := chromedp.Do(rctx, chromedp.Click(chromedp.CSS(recMenu+` [data-report-submit]`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, rctx, "your report was sent", "record report confirmation")

	// And the Datanet itself from its page.
	const menu = `details[data-report="datanet:lighthouse-logs"]`
	err = chromedp.Do(rctx,
		chromedp.Navigate(srv.URL+"/datanets"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/datanets/lighthouse-logs"]`)),
		chromedp.Navigate(srv.URL+"/datanets/lighthouse-logs"),
		chromedp.WaitVisible(chromedp.CSS(menu+` > summary`)),
		chromedp.Click(chromedp.CSS(menu+` > summary`)),
		chromedp.WaitVisible(chromedp.CSS(menu+` select`)),
		chromedp.SetValue(chromedp.CSS(menu+` select`), "harmful"),
		chromedp.SendKeys(chromedp.CSS(menu+` textarea`), "Contains the home addresses of living keepers."),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, rctx, "moderation-report-form")
	if err := chromedp.Do(rctx, chromedp.Click(chromedp.CSS(menu+` [data-report-submit]`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, rctx, "your report was sent", "report confirmation")

	// The admin opens the queue from the admin home and suspends it.
	actx := newBrowser(t)
	admin.inject(t, actx, 1337)
	signIn(t, actx, srv, admin)
	err = chromedp.Do(actx,
		chromedp.Navigate(srv.URL+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/moderation"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, actx, "admin-home")
	const group = `section[data-target="datanet:lighthouse-logs"]`
	recGroup := `section[data-target="` + recTarget + `"]`
	err = chromedp.Do(actx,
		chromedp.Click(chromedp.CSS(`a[href="/admin/moderation"]`)),
		chromedp.WaitVisible(chromedp.CSS(group)),
		chromedp.WaitVisible(chromedp.CSS(recGroup)),
	)
	if err != nil {
		t.Fatal(err)
	}
	// First the record: removed, and gone from the records tab.
	contains(t, bodyText(t, actx), "12 Quay Street", "queue shows the record's content")
	err = chromedp.Do(actx,
		chromedp.SendKeys(chromedp.CSS(recGroup+` textarea[name="reason"]`), "Personal address of a private person"),
		chromedp.Click(chromedp.CSS(recGroup+` [data-mod-action="remove"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-dialog [data-confirm-ok]`)),
		chromedp.Click(chromedp.CSS(`#confirm-dialog [data-confirm-ok]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, actx, "Removed "+recTarget, "record removed")
	if err := chromedp.Do(rctx, chromedp.Navigate(srv.URL+"/datanets/lighthouse-logs?tab=records")); err != nil {
		t.Fatal(err)
	}
	waitText(t, rctx, "Fog all night", "records tab after removal")
	if strings.Contains(bodyText(t, rctx), "Quay Street") {
		t.Fatal("the removed record is still served")
	}
	text := bodyText(t, actx)
	contains(t, text, "Lighthouse logs", "queue shows the target")
	contains(t, text, "Keeper journals, transcribed", "queue shows the content inline")
	contains(t, text, "Contains the home addresses of living keepers.", "queue shows the report")
	contains(t, text, "Harmful or abusive", "queue shows the category")
	screenshot(t, actx, "moderation-queue")
	setDark(t, actx, true)
	screenshot(t, actx, "moderation-queue-dark")
	setDark(t, actx, false)
	err = chromedp.Do(actx,
		chromedp.SendKeys(chromedp.CSS(group+` textarea[name="reason"]`), "Publishes personal addresses"),
		chromedp.Click(chromedp.CSS(group+` [data-mod-action="suspend"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-dialog [data-confirm-input]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	// The dialog wants the slug typed before it lets the suspension through.
	disabled, err := chromedp.Run(actx, chromedp.Evaluate[bool](`document.querySelector("#confirm-dialog [data-confirm-ok]").disabled`))
	if err != nil || !disabled {
		t.Fatalf("confirm enabled before typing the name: %v %v", disabled, err)
	}
	screenshot(t, actx, "moderation-confirm-suspend")
	err = chromedp.Do(actx,
		chromedp.SendKeys(chromedp.CSS(`#confirm-dialog [data-confirm-input]`), "lighthouse-logs"),
		chromedp.Click(chromedp.CSS(`#confirm-dialog [data-confirm-ok]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, actx, "Suspended datanet:lighthouse-logs", "suspension confirmed")
	waitText(t, actx, "Nothing to review", "queue emptied")

	// Gone from browse, for the admin and for the reporter.
	checkGone(t, actx, srv, "admin")
	checkGone(t, rctx, srv, "reporter")

	// The owner sees the bell count and the notification with the reason.
	err = chromedp.Do(octx,
		chromedp.Navigate(srv.URL+"/datanets"),
		chromedp.WaitVisible(chromedp.CSS(`a.bell .bell-count`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	count, err := chromedp.Run(octx, chromedp.Text(chromedp.CSS(`a.bell .bell-count`)))
	// The owner also contributed the removed record: two notifications.
	if err != nil || strings.TrimSpace(count) != "2" {
		t.Fatalf("bell count = %q, %v", count, err)
	}
	if err := chromedp.Do(octx, chromedp.Click(chromedp.CSS(`a.bell`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, octx, "Your Datanet “Lighthouse logs” was suspended", "owner notification")
	waitText(t, octx, "Publishes personal addresses", "the reason reaches the owner")
	waitText(t, octx, "Personal address of a private person", "the record removal reaches its contributor")
	screenshot(t, octx, "notifications")

	// The audit log has the decision.
	if err := chromedp.Do(actx, chromedp.Navigate(srv.URL+"/admin/audit?target=datanet:lighthouse-logs")); err != nil {
		t.Fatal(err)
	}
	waitText(t, actx, "datanet.suspend", "audit log entry")
	contains(t, bodyText(t, actx), "Publishes personal addresses", "audit reason")
	screenshot(t, actx, "audit-log")
	if err := chromedp.Do(actx, chromedp.Navigate(srv.URL+"/admin/roles")); err != nil {
		t.Fatal(err)
	}
	waitText(t, actx, "Admins from configuration", "roles page")
	screenshot(t, actx, "roles")
}

// checkGone asserts /datanets no longer lists the suspended Datanet.
func checkGone(t *testing.T, ctx context.Context, srv *server, who string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/datanets")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "Datanets", "browse page for the "+who)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('a[href="/datanets/lighthouse-logs"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 || strings.Contains(bodyText(t, ctx), "Lighthouse logs") {
		t.Fatalf("the suspended Datanet is still in the %s's browse", who)
	}
}
