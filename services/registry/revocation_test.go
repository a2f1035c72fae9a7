package registry

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestRevokeTokenRefusesItAtOnce: an admin revokes a bureau's token by
// giving it, and a clerk's by its id and expiry; registry refuses both
// from the next call on, and lists them; revoking again answers the first
// revocation.
func TestRevokeTokenRefusesItAtOnce(t *testing.T) {
	t.Parallel()
	_, h := newServed(t)
	admin := h.as(adminP)
	bureau, err := h.keys.Signer.Issue(bureauP, nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	clerk, err := h.keys.Signer.Issue(clerkP, nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{bureau.Token, clerk.Token} {
		if _, err := h.client.GetCommunity(servicetest.WithToken(t.Context(), tok), &pb.GetCommunityRequest{Id: communityA}); err != nil {
			t.Fatalf("before the revocation: %v", err)
		}
	}

	byToken, err := h.client.RevokeToken(admin, &pb.RevokeTokenRequest{Token: bureau.Token, Reason: "laptop stolen"})
	if err != nil {
		t.Fatal(err)
	}
	if e := byToken.RevokedToken; e.TokenId != bureau.ID || !e.ExpireTime.AsTime().Equal(bureau.Expires) ||
		e.RevokedBy != adminP.Subject || e.Reason != "laptop stolen" || e.Sequence != 1 || e.RevokeTime == nil {
		t.Errorf("revocation by token = %v, want %s until %v, sequence 1, by %s", e, bureau.ID, bureau.Expires, adminP.Subject)
	}
	byID, err := h.client.RevokeToken(admin, &pb.RevokeTokenRequest{TokenId: clerk.ID, ExpireTime: timestamppb.New(clerk.Expires)})
	if err != nil {
		t.Fatal(err)
	}
	if byID.RevokedToken.Sequence != 2 {
		t.Errorf("second revocation has sequence %d, want 2", byID.RevokedToken.Sequence)
	}
	for name, tok := range map[string]string{"bureau": bureau.Token, "clerk": clerk.Token} {
		_, err := h.client.GetCommunity(servicetest.WithToken(t.Context(), tok), &pb.GetCommunityRequest{Id: communityA})
		wantStatus(t, err, codes.Unauthenticated)
		if strings.Contains(err.Error(), tok) {
			t.Errorf("%s: the refusal repeats the token", name)
		}
	}

	again, err := h.client.RevokeToken(admin, &pb.RevokeTokenRequest{TokenId: clerk.ID, ExpireTime: timestamppb.New(clerk.Expires), Reason: "twice"})
	if err != nil || again.RevokedToken.Sequence != 2 || again.RevokedToken.Reason != "" {
		t.Errorf("revoking again = %v, %v; want the first revocation", again, err)
	}

	list, err := h.client.ListRevokedTokens(h.as(serviceP), &pb.ListRevokedTokensRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.RevokedTokens) != 2 || list.RevokedTokens[0].TokenId != bureau.ID || list.RevokedTokens[1].TokenId != clerk.ID || list.Epoch != h.store.Epoch() {
		t.Errorf("ListRevokedTokens = %v; want both in order, epoch %s", list, h.store.Epoch())
	}
	after, err := h.client.ListRevokedTokens(h.as(serviceP), &pb.ListRevokedTokensRequest{AfterSequence: 1, PageSize: 5})
	if err != nil || len(after.RevokedTokens) != 1 || after.RevokedTokens[0].Sequence != 2 {
		t.Errorf("ListRevokedTokens after 1 = %v, %v; want the second only", after, err)
	}
}

// TestRevokeTokenRefusesBadRequests: each bad request is refused with the
// field or the reason, and revokes nothing.
func TestRevokeTokenRefusesBadRequests(t *testing.T) {
	t.Parallel()
	_, h := newServed(t)
	admin := h.as(adminP)
	expired, err := h.keys.Signer.Issue(bureauP, nil, time.Hour, testNow.Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	valid := timestamppb.New(testNow.Add(time.Hour))
	tests := []struct {
		name   string
		req    *pb.RevokeTokenRequest
		field  string // InvalidArgument naming it, or
		reason string // FailedPrecondition with it
	}{
		{"nothing", &pb.RevokeTokenRequest{}, "expireTime,tokenId", ""},
		{"token and id", &pb.RevokeTokenRequest{Token: h.token(bureauP), TokenId: "A"}, "token", ""},
		{"foreign token", &pb.RevokeTokenRequest{Token: servicetest.NewKeys(t).Token(t, bureauP)}, "token", ""},
		{"not a token", &pb.RevokeTokenRequest{Token: "a.b.c"}, "token", ""},
		{"id with a space", &pb.RevokeTokenRequest{TokenId: "A B", ExpireTime: valid}, "tokenId", ""},
		{"id too long", &pb.RevokeTokenRequest{TokenId: strings.Repeat("A", 65), ExpireTime: valid}, "tokenId", ""},
		{"no expiry", &pb.RevokeTokenRequest{TokenId: "A"}, "expireTime", ""},
		{"expiry out of range", &pb.RevokeTokenRequest{TokenId: "A", ExpireTime: &timestamppb.Timestamp{Seconds: 1 << 60}}, "expireTime", ""},
		{"expiry over a year ahead", &pb.RevokeTokenRequest{TokenId: "A", ExpireTime: timestamppb.New(testNow.Add(authn.MaxTTL + time.Hour))}, "expireTime", ""},
		{"reason too long", &pb.RevokeTokenRequest{TokenId: "A", ExpireTime: valid, Reason: strings.Repeat("长", maxRevocationReasonLen+1)}, "reason", ""},
		{"expired id", &pb.RevokeTokenRequest{TokenId: "A", ExpireTime: timestamppb.New(testNow.Add(-time.Hour))}, "", reasonTokenExpired},
		{"expired token", &pb.RevokeTokenRequest{Token: expired.Token}, "", reasonTokenExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.RevokeToken(admin, tc.req)
			if tc.field != "" {
				wantFields(t, err, strings.Split(tc.field, ",")...)
			} else {
				wantReason(t, err, codes.FailedPrecondition, tc.reason)
			}
		})
	}
	list, err := h.store.ListRevokedTokens(0, 10)
	if err != nil || len(list) != 0 {
		t.Errorf("revocation list after refusals = %v, %v; want empty", list, err)
	}
	for _, req := range []*pb.ListRevokedTokensRequest{{AfterSequence: -1}, {PageSize: maxRevokedPage + 1}, {PageSize: -1}} {
		_, err := h.client.ListRevokedTokens(h.as(serviceP), req)
		wantStatus(t, err, codes.InvalidArgument)
	}
}

// TestRevocationListLapsesAndPersists: the list survives a restart, and
// an entry goes once its token has expired: at the next revocation, or
// the next open.
func TestRevocationListLapsesAndPersists(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registry.db")
	now := testNow
	clock := func() time.Time { return now }
	s := openStoreAt(t, path, 0)
	s.now = clock
	revoke := func(s *Store, id string, expires time.Time) {
		t.Helper()
		if _, _, err := s.RevokeToken(&pb.RevokedToken{TokenId: id, ExpireTime: timestamppb.New(expires), RevokedBy: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(s *Store) []string {
		t.Helper()
		list, err := s.Revocations()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range list {
			out = append(out, r.TokenID)
		}
		return out
	}
	revoke(s, "SOON", now.Add(time.Minute))
	revoke(s, "LATER", now.Add(2*time.Hour))
	revoke(s, "LAST", now.Add(3*time.Hour))
	now = now.Add(time.Minute + revocationLapse + time.Second)
	revoke(s, "NEW", now.Add(3*time.Hour))
	if got := strings.Join(ids(s), ","); got != "LATER,LAST,NEW" {
		t.Errorf("after a revocation past SOON's expiry: %s, want LATER,LAST,NEW", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	now = testNow.Add(2*time.Hour + revocationLapse + time.Second)
	reopened, err := OpenStore(path, s.keyer, StoreOptions{Now: clock, DataKeys: servicetest.DataKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	if got := strings.Join(ids(reopened), ","); got != "LAST,NEW" {
		t.Errorf("after reopening past LATER's expiry: %s, want LAST,NEW", got)
	}
	// The sequence carries on after the pruned entries.
	entry, _, err := reopened.RevokeToken(&pb.RevokedToken{TokenId: "AFTER", ExpireTime: timestamppb.New(now.Add(time.Hour))})
	if err != nil || entry.Sequence != 5 {
		t.Errorf("next revocation = %v, %v; want sequence 5", entry, err)
	}
}

// TestRevocationListIsBounded: a full list refuses more (a limit, which
// clients see as RESOURCE_EXHAUSTED), and revokes nothing.
func TestRevocationListIsBounded(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	s.maxRevoked = 3
	for _, id := range []string{"A", "B", "C"} {
		if _, _, err := s.RevokeToken(&pb.RevokedToken{TokenId: id, ExpireTime: timestamppb.New(testNow.Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := s.RevokeToken(&pb.RevokedToken{TokenId: "D", ExpireTime: timestamppb.New(testNow.Add(time.Hour))})
	var rule *fault.RuleError
	if !errors.As(err, &rule) || rule.Kind != fault.Exhausted || rule.Reason != reasonTooManyRevoked {
		t.Errorf("revoking on a full list: %v, want the %s limit", err, reasonTooManyRevoked)
	}
	if list, _ := s.ListRevokedTokens(0, 10); len(list) != 3 {
		t.Errorf("the full list holds %d entries, want 3", len(list))
	}
	// A token already on the list is still answered.
	if _, replayed, err := s.RevokeToken(&pb.RevokedToken{TokenId: "A", ExpireTime: timestamppb.New(testNow.Add(time.Hour))}); err != nil || !replayed {
		t.Errorf("revoking a listed token on a full list = %v, %v; want its entry", replayed, err)
	}
}
