package gather

import (
	"slices"
	"testing"
)

func TestQueued(t *testing.T) {
	tests := []struct {
		name   string
		queued []int
		close  bool
		limit  int
		want   []int
		left   int // values still queued afterwards
	}{
		{name: "nothing queued", limit: 3, want: []int{0}},
		{name: "all queued fit", queued: []int{1, 2}, limit: 3, want: []int{0, 1, 2}},
		{name: "stops at the limit", queued: []int{1, 2, 3, 4}, limit: 3, want: []int{0, 1, 2}, left: 2},
		{name: "closed channel", queued: []int{1}, close: true, limit: 3, want: []int{0, 1}},
		{name: "full already", queued: []int{1}, limit: 1, want: []int{0}, left: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := make(chan int, len(tc.queued))
			for _, v := range tc.queued {
				ch <- v
			}
			if tc.close {
				close(ch)
			}
			got := Queued([]int{0}, ch, tc.limit)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Queued = %v, want %v", got, tc.want)
			}
			if len(ch) != tc.left {
				t.Errorf("%d values left queued, want %d", len(ch), tc.left)
			}
		})
	}
}
