package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestRevokedTokenRefused: a token on the list is refused, whether the
// verifier had cached it or not, and other tokens are not.
func TestRevokedTokenRefused(t *testing.T) {
	pub, priv := newKey(t)
	list := NewRevocations()
	list.now = func() time.Time { return t0 }
	v := NewVerifier(pub, WithClock(func() time.Time { return t0 }), WithRevocations(list))
	if v.Revocations() != list {
		t.Fatal("Revocations is not the list given")
	}
	cached, err := NewSigner(priv).Issue(adminP, nil, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := NewSigner(priv).Issue(adminP, nil, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	other := mustSign(t, priv, bureauP, time.Hour, t0)
	if p := mustVerify(t, v, cached.Token); p.TokenID != cached.ID {
		t.Fatalf("TokenID = %q, want the jti %q", p.TokenID, cached.ID)
	}

	if n := list.Add(Revocation{TokenID: cached.ID, Expires: cached.Expires}, Revocation{TokenID: fresh.ID, Expires: fresh.Expires}); n != 2 {
		t.Errorf("Add = %d, want 2", n)
	}
	for name, tok := range map[string]string{"cached": cached.Token, "not cached": fresh.Token} {
		if _, err := v.Verify(tok); !errors.Is(err, ErrTokenRevoked) || !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s revoked token: err = %v, want ErrTokenRevoked", name, err)
		}
	}
	mustVerify(t, v, other)
}

func TestRevocationsAddAndPrune(t *testing.T) {
	clock := testclock.New(t0)
	r := NewRevocations()
	r.now = clock.Now
	if r.Revoked("") || r.Revoked("A") || r.Len() != 0 {
		t.Fatal("a new list is not empty")
	}
	if n := r.Add(
		Revocation{TokenID: "A", Expires: t0.Add(time.Hour)},
		Revocation{TokenID: "B", Expires: t0.Add(2 * time.Hour)},
		Revocation{TokenID: "GONE", Expires: t0.Add(-time.Hour)},
		Revocation{TokenID: "", Expires: t0.Add(time.Hour)},
	); n != 2 {
		t.Errorf("Add = %d, want 2: an expired entry and an empty id are not added", n)
	}
	if !r.Revoked("A") || !r.Revoked("B") || r.Revoked("GONE") {
		t.Errorf("IDs = %v, want A and B", r.IDs())
	}
	if n := r.Add(Revocation{TokenID: "A", Expires: t0.Add(time.Hour)}); n != 0 {
		t.Errorf("Add of a known id = %d, want 0", n)
	}
	// Past A's expiry and the margin, the next Add drops it.
	clock.Set(t0.Add(time.Hour + revocationMargin + time.Second))
	r.Add(Revocation{TokenID: "C", Expires: t0.Add(3 * time.Hour)})
	got := r.IDs()
	slices.Sort(got)
	if !slices.Equal(got, []string{"B", "C"}) {
		t.Errorf("IDs = %v, want [B C]", got)
	}
}

func TestInspect(t *testing.T) {
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)
	v := NewVerifier(pub, WithClock(func() time.Time { return t0 }))
	kid := KeyID(pub)
	header := map[string]string{"alg": "EdDSA", "kid": kid}
	expired, err := NewSigner(priv).Issue(adminP, nil, time.Hour, t0.Add(-3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := NewSigner(priv).Issue(serviceP, []string{ServiceAudience("pension")}, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	for name, is := range map[string]Issued{"expired": expired, "for another program": narrow} {
		got, err := v.Inspect(is.Token)
		if err != nil || got.TokenID != is.ID || !got.Expires.Equal(is.Expires) {
			t.Errorf("Inspect(%s) = %+v, %v; want %s until %v", name, got, err, is.ID, is.Expires)
		}
	}
	for name, tok := range map[string]string{
		"foreign key": mustSign(t, otherPriv, adminP, time.Hour, t0),
		"no jti":      craft(t, header, map[string]any{"iss": Issuer, "exp": t0.Unix(), "sub": "x", "role": "admin"}, edSign(priv)),
		"no exp":      craft(t, header, map[string]any{"iss": Issuer, "jti": "A", "sub": "x", "role": "admin"}, edSign(priv)),
		"other iss":   craft(t, header, map[string]any{"iss": "x", "jti": "A", "exp": t0.Unix()}, edSign(priv)),
		"garbage":     "a.b.c",
		"empty":       "",
	} {
		if got, err := v.Inspect(tok); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("Inspect(%s) = %+v, %v; want an error", name, got, err)
		}
	}
}

func TestAudienceAndLifetimeOptions(t *testing.T) {
	pub, priv := newKey(t)
	s := NewSigner(priv)
	v := NewVerifier(pub, WithClock(func() time.Time { return t0 }),
		WithAudience(Audience, ServiceAudience("registry")), WithMaxLifetime(time.Hour, 2*time.Hour))
	issue := func(p Principal, aud []string, ttl time.Duration) string {
		t.Helper()
		is, err := s.Issue(p, aud, ttl, t0)
		if err != nil {
			t.Fatal(err)
		}
		return is.Token
	}
	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"every program", issue(adminP, nil, time.Hour), true},
		{"this program", issue(serviceP, []string{ServiceAudience("registry")}, time.Hour), true},
		{"another program", issue(serviceP, []string{ServiceAudience("pension")}, time.Hour), false},
		{"person within the bound", issue(clerkP, nil, time.Hour), true},
		{"person over the bound", issue(clerkP, nil, time.Hour+time.Second), false},
		{"service within its bound", issue(serviceP, nil, 2*time.Hour), true},
		{"service over its bound", issue(serviceP, nil, 2*time.Hour+time.Second), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.tok)
			if tc.ok && err != nil {
				t.Errorf("Verify: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrBadClaims) {
				t.Errorf("err = %v, want ErrBadClaims", err)
			}
		})
	}
	for _, aud := range [][]string{{}, {""}, {"with space"}, make([]string, maxAudiences+1)} {
		if _, err := s.Issue(adminP, aud, time.Hour, t0); err == nil {
			t.Errorf("Issue with audience %q succeeded", aud)
		}
	}
}

// fakeRevocationSource serves a revocation list as registry would, and
// fails while told to.
type fakeRevocationSource struct {
	mu      sync.Mutex
	epoch   string
	entries []*registryv1.RevokedToken
	fail    bool
	calls   []int64 // after_sequence of each call
}

func (f *fakeRevocationSource) ListRevokedTokens(_ context.Context, in *registryv1.ListRevokedTokensRequest, _ ...grpc.CallOption) (*registryv1.ListRevokedTokensResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in.AfterSequence)
	if f.fail {
		return nil, errors.New("registry unreachable")
	}
	resp := &registryv1.ListRevokedTokensResponse{Epoch: f.epoch}
	for _, e := range f.entries {
		if e.Sequence > in.AfterSequence && len(resp.RevokedTokens) < int(in.PageSize) {
			resp.RevokedTokens = append(resp.RevokedTokens, e)
		}
	}
	return resp, nil
}

func (f *fakeRevocationSource) revoke(id string, seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, &registryv1.RevokedToken{TokenId: id, Sequence: seq, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))})
}

func (f *fakeRevocationSource) set(mod func(f *fakeRevocationSource)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mod(f)
}

func (f *fakeRevocationSource) lastCall() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return -1
	}
	return f.calls[len(f.calls)-1]
}

// TestFollowRevocations: the list takes up every page of registry's,
// then only what is new; it keeps what it has while registry is gone; a
// new epoch is read again from the start.
func TestFollowRevocations(t *testing.T) {
	src := &fakeRevocationSource{epoch: "E1"}
	for i := range revocationPage + 5 {
		src.revoke(tokenIDOf(i), int64(i+1))
	}
	list := NewRevocations()
	polls := make(chan error, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- FollowRevocations(ctx, src, list, FollowOptions{
			Interval: time.Millisecond, Logger: zaptest.NewLogger(t),
			Polled: func(err error) {
				select {
				case polls <- err:
				default:
				}
			},
		})
	}()
	defer func() {
		cancel()
		if err := waitfor.Receive(t, "FollowRevocations to return", done); err != nil {
			t.Errorf("FollowRevocations = %v, want nil", err)
		}
	}()

	waitfor.True(t, "both pages to be read", func() bool { return list.Len() == revocationPage+5 })
	waitfor.True(t, "polls to ask only for what is new", func() bool { return src.lastCall() == int64(revocationPage+5) })

	src.set(func(f *fakeRevocationSource) { f.fail = true })
	waitfor.True(t, "a poll to fail", func() bool {
		select {
		case err := <-polls:
			return err != nil
		default:
			return false
		}
	})
	src.revoke("LATE", int64(revocationPage+6))
	src.set(func(f *fakeRevocationSource) { f.fail = false })
	waitfor.True(t, "the list to take up the revocation made while registry was gone", func() bool { return list.Revoked("LATE") })
	if list.Len() != revocationPage+6 {
		t.Errorf("Len = %d after an outage, want %d: nothing may be forgotten", list.Len(), revocationPage+6)
	}

	// Registry restored from a backup: a new epoch, its sequence numbers
	// start over, and an entry made after the backup is under a number the
	// follower has passed already.
	src.set(func(f *fakeRevocationSource) {
		f.epoch = "E2"
		f.entries = []*registryv1.RevokedToken{{TokenId: "AFTER-RESTORE", Sequence: 1, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))}}
	})
	waitfor.True(t, "the new epoch to be read from the start", func() bool { return list.Revoked("AFTER-RESTORE") })
	if !list.Revoked("LATE") {
		t.Error("a revocation the restored registry lost was dropped; revocations must never lapse early")
	}
}

func tokenIDOf(i int) string { return fmt.Sprintf("T%05d", i) }
