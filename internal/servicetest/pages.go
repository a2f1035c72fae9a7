package servicetest

import "testing"

// AllPages reads a list from its first page on, following the page tokens
// until a page has none, and returns the items of the pages in order. page
// reads the page a token names (the empty token the first) and returns its
// items and the next page's token: a client's string or a store's key.
// Its error fails t, and so does a list that has not ended after maxPages
// pages, as paging must end.
func AllPages[T any, Token ~string | ~[]byte](t testing.TB, maxPages int, page func(token Token) ([]T, Token, error)) []T {
	t.Helper()
	var all []T
	var token Token
	for n := 1; n <= maxPages; n++ {
		items, next, err := page(token)
		if err != nil {
			t.Fatalf("page %d: %v", n, err)
		}
		all = append(all, items...)
		if token = next; len(token) == 0 {
			return all
		}
	}
	t.Fatalf("paging does not end within %d pages", maxPages)
	return nil
}
