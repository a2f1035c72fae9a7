package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/authn"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// reportable returns the retiree id names for the caller of ctx, as the
// registry lets a reporter see it: a clerk only in its communities.
func (f *fakeRegistry) reportable(ctx context.Context, id string) (*registryv1.Retiree, error) {
	p, err := authn.Require(ctx, authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk)
	if err != nil {
		return nil, err
	}
	r := f.retirees[id]
	if p.Role == authn.RoleClerk && (r == nil || !p.InArea(r.GetCommunityId())) {
		return nil, status.Error(codes.PermissionDenied, "not your community")
	}
	if r == nil {
		return nil, status.Error(codes.NotFound, "no such retiree")
	}
	return r, nil
}

func (f *fakeRegistry) CreateDeathReport(ctx context.Context, req *registryv1.CreateDeathReportRequest) (*registryv1.CreateDeathReportResponse, error) {
	defer f.call("CreateDeathReport")()
	r, err := f.reportable(ctx, req.GetId())
	switch {
	case err != nil:
		return nil, err
	case r.GetStatus() != registryv1.RetireeStatus_LIVING:
		return nil, status.Error(codes.FailedPrecondition, "not living")
	case req.GetSource() == registryv1.DeathReportSource_DEATH_REPORT_SOURCE_UNSPECIFIED, req.GetDateOfDeath() == "":
		return nil, status.Error(codes.InvalidArgument, "source and date required")
	case (req.GetSource() == registryv1.DeathReportSource_FAMILY || req.GetSource() == registryv1.DeathReportSource_CLERK_VISIT) &&
		req.GetReporter().GetName() == "":
		return nil, status.Error(codes.InvalidArgument, "reporter.name: required")
	}
	for _, d := range f.reports {
		if d.GetRetireeId() == r.GetId() && d.GetState() == registryv1.DeathReportState_REPORTED {
			return nil, status.Error(codes.AlreadyExists, "a report is open")
		}
	}
	d := &registryv1.DeathReport{
		Id: fmt.Sprintf("d%04d", len(f.reports)+1), RetireeId: r.GetId(), CommunityId: r.GetCommunityId(),
		State: registryv1.DeathReportState_REPORTED, DateOfDeath: req.GetDateOfDeath(), Source: req.GetSource(),
		Reporter: req.GetReporter(), Documents: req.GetDocuments(),
	}
	f.reports[d.Id] = d
	return &registryv1.CreateDeathReportResponse{DeathReport: proto.Clone(d).(*registryv1.DeathReport)}, nil
}

func (f *fakeRegistry) ListRetireeDeathReports(ctx context.Context, req *registryv1.ListRetireeDeathReportsRequest) (*registryv1.ListRetireeDeathReportsResponse, error) {
	defer f.call("ListRetireeDeathReports")()
	if _, err := f.reportable(ctx, req.GetId()); err != nil {
		return nil, err
	}
	resp := &registryv1.ListRetireeDeathReportsResponse{}
	for _, d := range f.reports {
		if d.GetRetireeId() == req.GetId() {
			resp.DeathReports = append(resp.DeathReports, proto.Clone(d).(*registryv1.DeathReport))
		}
	}
	return resp, nil
}

// decide moves the REPORTED report id to state, for a caller who may
// report the retiree's death.
func (f *fakeRegistry) decide(ctx context.Context, id string, state registryv1.DeathReportState) (*registryv1.DeathReport, error) {
	d := f.reports[id]
	if d == nil {
		return nil, status.Error(codes.NotFound, "no such report")
	}
	r, err := f.reportable(ctx, d.GetRetireeId())
	switch {
	case err != nil:
		return nil, err
	case d.GetState() != registryv1.DeathReportState_REPORTED:
		return nil, status.Error(codes.FailedPrecondition, "decided")
	}
	d.State = state
	if state == registryv1.DeathReportState_VERIFIED {
		r.Status = registryv1.RetireeStatus_DECEASED
		r.DateOfDeath = d.GetDateOfDeath()
	}
	return proto.Clone(d).(*registryv1.DeathReport), nil
}

func (f *fakeRegistry) VerifyDeathReport(ctx context.Context, req *registryv1.VerifyDeathReportRequest) (*registryv1.VerifyDeathReportResponse, error) {
	defer f.call("VerifyDeathReport")()
	d, err := f.decide(ctx, req.GetId(), registryv1.DeathReportState_VERIFIED)
	return &registryv1.VerifyDeathReportResponse{DeathReport: d}, err
}

func (f *fakeRegistry) RejectDeathReport(ctx context.Context, req *registryv1.RejectDeathReportRequest) (*registryv1.RejectDeathReportResponse, error) {
	defer f.call("RejectDeathReport")()
	if req.GetReason() == "" {
		return nil, status.Error(codes.InvalidArgument, "reason: required")
	}
	d, err := f.decide(ctx, req.GetId(), registryv1.DeathReportState_REJECTED)
	return &registryv1.RejectDeathReportResponse{DeathReport: d}, err
}

// reportsByState counts the fake's death reports by state and source.
func (f *fakeRegistry) reportsByState() (map[registryv1.DeathReportState]int, map[registryv1.DeathReportSource]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	states, sources := map[registryv1.DeathReportState]int{}, map[registryv1.DeathReportSource]int{}
	for _, d := range f.reports {
		states[d.GetState()]++
		sources[d.GetSource()]++
	}
	return states, sources
}

// TestSeedFilesDeathReports: the seed files a death report from every
// source as the communities' clerks and verifies it, leaves one report
// unverified and rejects one; a second run files nothing.
func TestSeedFilesDeathReports(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	reg := newFakeRegistry()
	addr, _ := startFakeRegistry(t, reg, pub)
	cfg := seedConfig{registryAddr: addr, keyFile: keyFile, retirees: 600, seed: 5, concurrency: 4}
	plan := mustGenerate(t, cfg.seed, cfg.retirees)
	redateRecentDeaths(plan, time.Now())

	var out, progress bytes.Buffer
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("first seed: %v\nprogress:\n%s", err, progress.String())
	}
	states, sources := reg.reportsByState()
	want := map[registryv1.DeathReportState]int{
		registryv1.DeathReportState_VERIFIED: len(reportSources),
		registryv1.DeathReportState_REPORTED: 1,
		registryv1.DeathReportState_REJECTED: 1,
	}
	for st, n := range want {
		if states[st] != n {
			t.Errorf("%d reports %s, want %d (all: %v)", states[st], st, n, states)
		}
	}
	for _, src := range reportSources {
		if sources[src] == 0 {
			t.Errorf("no report from %s", src)
		}
	}
	for _, d := range plan.Deaths[:len(reportSources)] {
		id := reg.byIDNumber[plan.Retirees[d.Index].GetIdNumber()]
		if r := reg.retirees[id]; r.GetStatus() != registryv1.RetireeStatus_DECEASED || r.GetDateOfDeath() != d.Date {
			t.Errorf("retiree #%d is %s (died %s), want DECEASED on %s", d.Index, r.GetStatus(), r.GetDateOfDeath(), d.Date)
		}
	}
	for _, row := range []string{"verified  6  0  0", "left  reported  1  0  0", "rejected  1  0  0",
		fmt.Sprintf("deaths  %d  0  0", len(plan.Deaths)-len(reportSources))} {
		if !strings.Contains(collapseSpaces(out.String()), row) {
			t.Errorf("first summary lacks %q:\n%s", row, out.String())
		}
	}

	out.Reset()
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("second seed: %v\nprogress:\n%s", err, progress.String())
	}
	if again, _ := reg.reportsByState(); fmt.Sprint(again) != fmt.Sprint(states) {
		t.Errorf("second seed changed the reports: %v, was %v", again, states)
	}
	for _, row := range []string{"verified  0  6  0", "left  reported  0  1  0", "rejected  0  1  0"} {
		if !strings.Contains(collapseSpaces(out.String()), row) {
			t.Errorf("second summary lacks %q:\n%s", row, out.String())
		}
	}
}

func (f *fakeRegistry) ReverseDeathReport(ctx context.Context, req *registryv1.ReverseDeathReportRequest) (*registryv1.ReverseDeathReportResponse, error) {
	defer f.call("ReverseDeathReport")()
	if _, err := authn.Require(ctx, authn.RoleAdmin, authn.RoleBureau); err != nil {
		return nil, err
	}
	d := f.reports[req.GetId()]
	switch {
	case d == nil:
		return nil, status.Error(codes.NotFound, "no such report")
	case d.GetState() != registryv1.DeathReportState_VERIFIED:
		return nil, status.Error(codes.FailedPrecondition, "not verified")
	case req.GetReason() == "":
		return nil, status.Error(codes.InvalidArgument, "reason: required")
	}
	d.State = registryv1.DeathReportState_REVERSED
	r := f.retirees[d.GetRetireeId()]
	r.Status, r.DateOfDeath = registryv1.RetireeStatus_LIVING, ""
	return &registryv1.ReverseDeathReportResponse{DeathReport: proto.Clone(d).(*registryv1.DeathReport)}, nil
}
