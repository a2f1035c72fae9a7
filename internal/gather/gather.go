// Package gather groups values that arrive on a channel, so that work
// done per group (a bbolt transaction and its fsync) is shared by
// everything that has already queued, without waiting for more.
package gather

// Queued appends to group the values already queued on ch, until group
// holds limit or ch has nothing ready or is closed. It never blocks: a slow
// sender gets small groups handled soon, a fast one large groups.
func Queued[T any](group []T, ch <-chan T, limit int) []T {
	for len(group) < limit {
		select {
		case v, ok := <-ch:
			if !ok {
				return group
			}
			group = append(group, v)
		default:
			return group
		}
	}
	return group
}
