package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// apiJSON calls the app's JSON API from the page (with the browser's
// session) and decodes the answer into out; it returns the status.
func apiJSON(t *testing.T, ctx context.Context, method, path string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	js := fmt.Sprintf(`fetch(%q, {method: %q, headers: {"Content-Type": "application/json", "Accept": "application/json"}, body: %s})
		.then(async r => JSON.stringify({status: r.status, body: await r.text()}))`, path, method, map[bool]string{true: "undefined", false: fmt.Sprintf("%q", b)}[body == nil])
	res, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Status int
		Body   string
	}
	if err := json.Unmarshal([]byte(res), &env); err != nil {
		t.Fatal(err)
	}
	if out != nil && env.Body != "" {
		if err := json.Unmarshal([]byte(env.Body), out); err != nil {
			t.Fatalf("%s %s = %d %s", method, path, env.Status, env.Body)
		}
	}
	return env.Status
}

// waitJS polls a JavaScript condition until it is true.
func waitJS(t *testing.T, ctx context.Context, cond, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : "") + "\n" + ((document.getElementById("annotate") || {}).outerHTML || "").slice(0, 6000)`))
	t.Fatalf("%s: %s never held; focus and form:\n%s", what, cond, state)
}

func mine(n int) string {
	return fmt.Sprintf(`(document.getElementById("lab-mine") || {}).textContent === "%d"`, n)
}

// TestBrowserLabelingKeyboard: a labeler completes ten items of a label
// project with the keyboard only — digits choose the label, Enter submits
// (and, after switching the submit key in the page's settings, Space), u
// undoes an answer — with htmx swapping the item in place (no page load),
// and the project then shows 10 of 10 items done.
func TestBrowserLabelingKeyboard(t *testing.T) {
	w := newWallet(t)
	srv := startServer(t)
	ctx := newBrowser(t)
	w.inject(t, ctx, 1337)
	signIn(t, ctx, srv, w)

	// Seed over the API: a published Datanet with ten records in version 1
	// and a classification project over it, one label per item.
	var d struct{ Slug string }
	if s := apiJSON(t, ctx, "POST", "/api/v1/datanets", map[string]any{"name": "Support replies", "schema": "instruction",
		"license": "CC-BY-4.0", "visibility": "public", "contributionPolicy": "open"}, &d); s != 201 {
		t.Fatalf("create datanet = %d", s)
	}
	if s := apiJSON(t, ctx, "POST", "/api/v1/datanets/"+d.Slug+"/publish", nil, nil); s != 200 {
		t.Fatalf("publish = %d", s)
	}
	var recs []map[string]any
	for i := range 10 {
		recs = append(recs, map[string]any{"instruction": fmt.Sprintf("Customer question %d: where is my order?", i),
			"response": fmt.Sprintf("Reply %d: it ships tomorrow.", i)})
	}
	var c struct{ ID int64 }
	if s := apiJSON(t, ctx, "POST", "/api/v1/datanets/"+d.Slug+"/contributions", map[string]any{"records": recs}, &c); s != 202 {
		t.Fatalf("contribute = %d", s)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var got struct{ Status string }
		apiJSON(t, ctx, "GET", fmt.Sprintf("/api/v1/contributions/%d", c.ID), nil, &got)
		if got.Status == "accepted" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("contribution still %s", got.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := apiJSON(t, ctx, "POST", "/api/v1/datanets/"+d.Slug+"/versions", nil, nil); s != 201 && s != 200 {
		t.Fatalf("publish version = %d", s)
	}
	var p struct{ ID int64 }
	if s := apiJSON(t, ctx, "POST", "/api/v1/labeling/projects", map[string]any{"datanet": d.Slug, "name": "Is the reply helpful?",
		"task": "classify", "labels": []string{"helpful", "unhelpful", "harmful"}, "source": "version", "version": 1, "overlap": 1,
		"guidelines": "## Helpful\nThe reply answers the question.\n\n## Unhelpful\nIt does not."}, &p); s != 201 {
		t.Fatalf("create project = %d", s)
	}

	// The annotation page; from here on only the keyboard.
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/labeling/projects/%d/label", srv.URL, p.ID)),
		chromedp.WaitVisible(chromedp.CSS(`#annotate input[name="label"]`))); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "labeling-annotate")
	// A marker on window survives htmx swaps but not a page load.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload = true`)); err != nil {
		t.Fatal(err)
	}
	key := func(k string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
			t.Fatal(err)
		}
	}
	answer := func(n int, digit, submit string) {
		t.Helper()
		key(digit)
		waitJS(t, ctx, fmt.Sprintf(`!!document.querySelector('#annotate input[data-hotkey="%s"]:checked')`, digit), "digit selects a label")
		key(submit)
		waitJS(t, ctx, mine(n), fmt.Sprintf("item %d saved", n))
	}
	answer(1, "1", kb.Enter)
	answer(2, "2", kb.Enter)
	answer(3, "1", kb.Enter)
	// u takes the third answer back; answer it again.
	key("u")
	waitJS(t, ctx, mine(2), "undo")
	waitJS(t, ctx, `!!document.querySelector('#annotate input[data-hotkey="1"]:checked')`, "undone answer prefilled")
	answer(3, "3", kb.Enter)
	answer(4, "1", kb.Enter)
	answer(5, "2", kb.Enter)

	// Switch the submit key to Space in the settings (keyboard on the select).
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`#lab-submit-key`)), chromedp.KeyEvent(kb.ArrowDown)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `localStorage.getItem("mf.label.submitKey") === "Space" && document.querySelector("[data-submit-key-label]").textContent === "Space"`, "submit key saved")
	answer(6, "1", " ")
	answer(7, "1", " ")
	answer(8, "2", " ")
	screenshot(t, ctx, "labeling-annotate-progress")
	answer(9, "1", " ")
	answer(10, "1", " ")
	waitText(t, ctx, "Nothing left for you here", "queue empty")
	waitJS(t, ctx, `document.getElementById("lab-done").textContent === "10" && document.getElementById("lab-items").textContent === "10"`, "project progress 10 of 10")
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload === true`)); !ok {
		t.Fatal("the page reloaded: answers must swap in place")
	}

	// The project page shows 10 done and the owner's agreement report.
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/labeling/projects/%d", srv.URL, p.ID))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "Items done", "project page")
	text := bodyText(t, ctx)
	contains(t, text, "10 / 10", "project progress")
	contains(t, text, "Krippendorff", "agreement report")
	setDark(t, ctx, false)
	screenshot(t, ctx, "labeling-project-light")
	setDark(t, ctx, true)
	screenshot(t, ctx, "labeling-project-dark")
	setDark(t, ctx, false)

	js := fmt.Sprintf(`fetch("/labeling/projects/%d/export").then(r => r.text())`, p.ID)
	exported, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(exported, "\n"); n != 10 || !strings.Contains(exported, `"consensus":{"label":"harmful"}`) {
		t.Fatalf("export has %d lines:\n%s", n, exported)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/labeling")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "Is the reply helpful?", "labeling home")
	screenshot(t, ctx, "labeling-home")
}
