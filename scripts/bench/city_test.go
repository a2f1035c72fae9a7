package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCityTable(t *testing.T) {
	tb := newCityTable([]int{20_000, 50_000})
	tb.set("load", 0, "1.0 s (20,000 records/s)")
	tb.set("heap", 0, "10.0 MiB")
	tb.judge("heap", "≤ 512 MiB", false)
	tb.set("load", 1, "2.0 s (15,000 records/s)")
	tb.set("a|b", 1, "x")
	tb.set("heap", 1, "11.0 MiB")
	tb.judge("heap", "≤ 512 MiB", true) // the larger size's verdict replaces the smaller's
	var b strings.Builder
	tb.write(&b)
	want := `| what | 20,000 | 50,000 | goal | result |
|---|---:|---:|---|---|
| load | 1.0 s (20,000 records/s) | 2.0 s (15,000 records/s) | – | – |
| heap | 10.0 MiB | 11.0 MiB | ≤ 512 MiB | met |
| a\|b | – | x | – | – |
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("city table (-want +got):\n%s", diff)
	}
}

func TestPrintCityTableEmpty(t *testing.T) {
	var b strings.Builder
	printCityTable(&b, config{}, newCityTable([]int{6000}))
	if b.Len() != 0 {
		t.Errorf("a table without rows printed %q", b.String())
	}
}

func TestCityCommunity(t *testing.T) {
	// Every community holds retirees of every residue modulo 12, so a
	// quarter of each is enterprise-managed and a third lives alone.
	const n = 12 * cityCommunities * 2
	residues := make([]map[int]bool, cityCommunities)
	for i := range n {
		c := cityCommunity(i)
		if c < 0 || c >= cityCommunities {
			t.Fatalf("cityCommunity(%d) = %d, outside 0..%d", i, c, cityCommunities-1)
		}
		if residues[c] == nil {
			residues[c] = map[int]bool{}
		}
		residues[c][i%12] = true
	}
	for c, r := range residues {
		if len(r) != 12 {
			t.Fatalf("community %d holds %d residues modulo 12, want 12", c, len(r))
		}
	}
}

func TestCityPick(t *testing.T) {
	// About one in every, in the whole city and in each community alike.
	const n = 600_000
	for _, tc := range []struct{ salt, every int }{{0, cityDropEvery}, {1, cityOverdueEvery}} {
		total := 0
		perCommunity := make([]int, cityCommunities)
		for i := range n {
			if cityPick(i, tc.salt, tc.every) {
				total++
				perCommunity[cityCommunity(i)]++
			}
		}
		want := n / tc.every
		if total < want*9/10 || total > want*11/10 {
			t.Errorf("cityPick(·, %d, %d) picked %d of %d, want about %d", tc.salt, tc.every, total, n, want)
		}
		wantEach := want / cityCommunities
		for c, got := range perCommunity {
			if got < wantEach/4 || got > wantEach*3 {
				t.Errorf("cityPick(·, %d, %d) picked %d in community %d, want about %d", tc.salt, tc.every, got, c, wantEach)
				break
			}
		}
	}
}

func TestCertifiedDaysAgo(t *testing.T) {
	const days = 500
	overdue := 0
	for n := range 10_000 {
		i := certifiedDaysAgo(n, days)
		ago := days - i
		switch {
		case i < 0 || i >= days:
			t.Fatalf("certifiedDaysAgo(%d) = %d, outside the list of %d days", n, i, days)
		case cityPick(n, 1, cityOverdueEvery):
			if ago < 366 {
				t.Fatalf("retiree %d, picked to be overdue, certified %d days ago", n, ago)
			}
			overdue++
		case ago < 1 || ago > 330:
			t.Fatalf("retiree %d certified %d days ago, want 1 to 330", n, ago)
		}
	}
	if overdue == 0 {
		t.Error("no retiree is overdue")
	}
}

func TestPageWalker(t *testing.T) {
	// A list of three pages, the middle one empty: the walker follows the
	// tokens and starts again after the last page.
	pages := map[string]struct {
		next    string
		entries int
	}{"": {"b", 2}, "b": {"c", 0}, "c": {"", 1}}
	var asked []string
	fetch := func(_ context.Context, token string) (string, int, error) {
		asked = append(asked, token)
		p := pages[token]
		return p.next, p.entries, nil
	}
	call := pageWalker(fetch, true)(0)
	for range 4 {
		if err := call(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"", "b", "c", ""}, asked); diff != "" {
		t.Errorf("tokens asked (-want +got):\n%s", diff)
	}

	strict := pageWalker(fetch, false)(0)
	asked = nil
	if err := strict(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := strict(t.Context()); !errors.Is(err, errEmptyPage) {
		t.Errorf("an empty page without allowEmpty: %v, want errEmptyPage", err)
	}
	failing := pageWalker(func(context.Context, string) (string, int, error) { return "", 0, errNoRequests }, true)(0)
	if err := failing(t.Context()); !errors.Is(err, errNoRequests) {
		t.Errorf("a failed page: %v, want its error", err)
	}
}

func TestInParallel(t *testing.T) {
	seen := make([]int, 100)
	err := inParallel(t.Context(), len(seen), 8, func(_ context.Context, i int) error {
		seen[i]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("item %d done %d times", i, n)
		}
	}
	boom := errors.New("boom")
	err = inParallel(t.Context(), 1000, 4, func(_ context.Context, i int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("inParallel = %v, want the failure", err)
	}
}

func TestBenchIDNumbersFrom(t *testing.T) {
	all, err := benchIDNumbersFrom(0, 30)
	if err != nil {
		t.Fatal(err)
	}
	part, err := benchIDNumbersFrom(10, 30)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all[10:], part); diff != "" {
		t.Errorf("ID numbers from 10 (-want +got):\n%s", diff)
	}
}

func TestDiskNeed(t *testing.T) {
	// 1,000 bytes a retiree so far; 2,000 retirees more need twice theirs.
	if got, want := diskNeed(1_000_000, 1000, 3000), int64(4_000_000); got != want {
		t.Errorf("diskNeed = %d, want %d", got, want)
	}
}
