package main

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEachPage(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		pages   map[string]string // token -> next token
		failAt  string
		want    []string
		wantErr error
	}{
		{name: "one page", pages: map[string]string{"": ""}, want: []string{""}},
		{name: "three pages", pages: map[string]string{"": "a", "a": "b", "b": ""}, want: []string{"", "a", "b"}},
		{name: "error stops", pages: map[string]string{"": "a", "a": "b", "b": ""}, failAt: "a", want: []string{"", "a"}, wantErr: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := eachPage(func(token string) (string, error) {
				got = append(got, token)
				if token == tc.failAt && tc.failAt != "" {
					return "ignored", boom
				}
				return tc.pages[token], nil
			})
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Errorf("eachPage error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tokens asked for (-want +got):\n%s", diff)
			}
		})
	}
}
