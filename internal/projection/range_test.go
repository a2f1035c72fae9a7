package projection_test

import (
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/projection"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestRange walks the whole projection in pages of two, in id order,
// whatever the community, and ends with "" once nothing is left.
func TestRange(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	var ids []string
	var rev uint64
	for i := range 5 {
		var r *registryv1.Retiree
		r, rev = reg.create([]string{communityA, communityB}[i%2])
		ids = append(ids, r.Id)
	}
	slices.Sort(ids)
	rp := startProjection(t, projectionPath(t), reg.dial(), projection.Options{})
	rp.waitFor(rev)
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the walk does not end")
		}
		var next string
		err := rp.db.View(func(tx *bolt.Tx) error {
			var err error
			next, err = projection.Range(tx, after, 2, func(st *registryv1.RetireeState) error {
				got = append(got, st.Id)
				return nil
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if next == "" {
			break
		}
		after = next
	}
	if !slices.Equal(got, ids) {
		t.Errorf("walked %v, want %v", got, ids)
	}
}
