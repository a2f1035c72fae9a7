package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// The activity scenario's venue: benchActivities weekly activities of
// benchSessions sessions each, half an hour at each of the first
// benchActivities hours of benchSessions weeks, book it 10,000 times.
const (
	benchActivities = 100
	benchSessions   = 100
	// goalCreateP99 is DESIGN's goal for creating an activity at a venue
	// holding 10,000 bookings.
	goalCreateP99   = 5 * time.Millisecond
	benchCommunity  = "210102001001"
	benchListWindow = 31 * 24 * time.Hour
)

// cst is the zone the scenario's times are written in.
var cst = time.FixedZone("CST", 8*3600)

// activityScenario measures CreateActivity at a venue that already holds
// 10,000 bookings (each create checks its session against the venue's
// index and commits with fsync), and ListActivities of a month of the
// community's sessions, over gRPC against the activity program with a
// registry feeding its projection. Each is measured with one client, so
// the latencies are the service's own rather than queueing behind other
// clients.
func activityScenario(ctx context.Context, h *harness) ([]row, error) {
	if p := h.missingProgram("activity", "activity"); p != "" {
		return skippedRows("activity service", p), nil
	}
	addr, stop, err := h.startActivityStack(ctx, filepath.Join(h.cfg.Bin, "activity"))
	if err != nil {
		return nil, err
	}
	defer stop()
	conns, err := h.dial(addr, 1)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	client := activityv1.NewActivityServiceClient(conns[0])

	var rows []row
	venue, base, loadRow, err := bookVenue(ctx, client)
	if err != nil {
		return rows, err
	}
	rows = append(rows, loadRow)
	createRow, err := h.measureCreateActivity(ctx, client, venue, base)
	if err != nil {
		return rows, err
	}
	rows = append(rows, createRow)
	listRow, err := h.measureListActivities(ctx, client, base)
	if err != nil {
		return rows, err
	}
	return append(rows, listRow), nil
}

// oneClient is the measurement of a latency that must be the service's
// own rather than queueing behind other clients.
func (h *harness) oneClient() loadSpec {
	return loadSpec{Workers: 1, Warmup: h.cfg.Warmup, Duration: h.cfg.Duration}
}

// measureCreateActivity measures CreateActivity in the free slots of the
// booked venue, beside the disk's own write+fdatasync latency.
func (h *harness) measureCreateActivity(ctx context.Context, client activityv1.ActivityServiceClient, venue string, base time.Time) (row, error) {
	// The reference: what the disk's own write+fdatasync costs now, of
	// which every commit pays two (pages, then meta page).
	syncP50, syncP99, err := probeFsync(filepath.Join(h.dir, "fsync-probe"), 1000)
	if err != nil {
		return row{}, err
	}
	var next atomic.Int64
	create := runLoad(ctx, h.oneClient(), func(int) caller {
		return func(ctx context.Context) error {
			start := freeSlot(base, int(next.Add(1)-1))
			_, err := client.CreateActivity(ctx, &activityv1.CreateActivityRequest{Activity: &activityv1.Activity{
				CommunityId: benchCommunity, VenueId: venue, Title: "健康讲座", Category: activityv1.Category_HEALTH,
				StartTime: start.Format(time.RFC3339), EndTime: start.Add(30 * time.Minute).Format(time.RFC3339), Capacity: 30,
			}})
			return err
		}
	})
	if err := create.Err(); err != nil {
		return row{}, fmt.Errorf("activity CreateActivity: %w", err)
	}
	r := measuredRow("activity CreateActivity at a venue holding 10,000 bookings, 1 client (durable at answer)", create)
	r.Compared = fmt.Sprintf("%s created; the disk's write+fdatasync alone: p50 %s, p99 %s (a commit has two)",
		formatCount(next.Load()), formatLatency(syncP50), formatLatency(syncP99))
	r.Goal = fmt.Sprintf("p99 ≤ %g ms", float64(goalCreateP99)/float64(time.Millisecond))
	r.Result = verdict(create.P99 <= goalCreateP99)
	return r, nil
}

// measureListActivities measures ListActivities of a month of the
// community's sessions, which must fit one page.
func (h *harness) measureListActivities(ctx context.Context, client activityv1.ActivityServiceClient, base time.Time) (row, error) {
	from := base.AddDate(0, 0, 28)
	req := &activityv1.ListActivitiesRequest{
		CommunityId: benchCommunity, From: from.Format(time.RFC3339), To: from.Add(benchListWindow).Format(time.RFC3339), PageSize: 1000,
	}
	resp, err := client.ListActivities(ctx, req)
	if err != nil {
		return row{}, fmt.Errorf("activity ListActivities: %w", err)
	}
	if resp.GetNextPageToken() != "" {
		return row{}, errors.New("activity ListActivities: a month did not fit one page of 1000")
	}
	list := runLoad(ctx, h.oneClient(), func(int) caller {
		return func(ctx context.Context) error {
			_, err := client.ListActivities(ctx, req)
			return err
		}
	})
	if err := list.Err(); err != nil {
		return row{}, fmt.Errorf("activity ListActivities: %w", err)
	}
	return measuredRow(fmt.Sprintf("activity ListActivities, a month of the community (%d sessions in one page), 1 client", len(resp.GetOccurrences())), list), nil
}

// bookVenue creates the benchmark venue and its 10,000 bookings, and
// returns the venue's id, the Monday the bookings start on and the row of
// the load.
func bookVenue(ctx context.Context, client activityv1.ActivityServiceClient) (string, time.Time, row, error) {
	v, err := client.CreateVenue(ctx, &activityv1.CreateVenueRequest{Venue: &activityv1.Venue{
		CommunityId: benchCommunity, Name: "社区多功能厅", Address: "和平区北市场街1号", Capacity: 100, AreaSqm: 160,
	}})
	if err != nil {
		return "", time.Time{}, row{}, fmt.Errorf("create venue: %w", err)
	}
	venue := v.GetVenue().GetId()
	// A Monday a week ahead, so that every booking is in the future.
	now := time.Now().In(cst)
	base := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, cst)
	base = base.AddDate(0, 0, 7-(int(base.Weekday())+6)%7)
	start := time.Now()
	for j := range benchActivities {
		first := base.Add(time.Duration(j) * time.Hour)
		_, err := client.CreateActivity(ctx, &activityv1.CreateActivityRequest{Activity: &activityv1.Activity{
			CommunityId: benchCommunity, VenueId: venue, Title: fmt.Sprintf("兴趣小组%03d", j), Category: activityv1.Category_CULTURE,
			StartTime: first.Format(time.RFC3339), EndTime: first.Add(30 * time.Minute).Format(time.RFC3339), Capacity: 50,
			Recurrence: &activityv1.Recurrence{IntervalWeeks: 1, Count: benchSessions},
		}})
		if err != nil {
			return "", time.Time{}, row{}, fmt.Errorf("book weekly activity %d: %w", j, err)
		}
	}
	elapsed := time.Since(start)
	return venue, base, row{
		What:     fmt.Sprintf("activity: book %s sessions at one venue (%d weekly activities of %d sessions)", formatCount(benchActivities*benchSessions), benchActivities, benchSessions),
		Value:    formatRate(float64(benchActivities*benchSessions)/elapsed.Seconds(), "sessions"),
		Compared: fmt.Sprintf("%.1f s in all", elapsed.Seconds()),
	}, nil
}

// freeSlot returns the i-th free half hour of the benchmark venue: first
// the second halves of the booked hours, each touching its booking, then
// the unbooked hours of the weeks after.
func freeSlot(base time.Time, i int) time.Time {
	if i < benchActivities*benchSessions {
		week, hour := i%benchSessions, i/benchSessions
		return base.AddDate(0, 0, 7*week).Add(time.Duration(hour)*time.Hour + 30*time.Minute)
	}
	i -= benchActivities * benchSessions
	const freeHours = 7*24 - benchActivities
	return base.AddDate(0, 0, 7*(benchSessions+i/freeHours)).Add(time.Duration(benchActivities+i%freeHours) * time.Hour)
}

// startActivityStack starts a registry and the activity program following
// it, each with its own data directory, and returns the activity's gRPC
// address and a function that stops both.
func (h *harness) startActivityStack(ctx context.Context, bin string) (string, func(), error) {
	reg, err := h.startService(ctx, "activity-registry", filepath.Join(h.cfg.Bin, "registry"), "--id-key", h.idKey)
	if err != nil {
		return "", nil, err
	}
	// The token key is the private key: the activity program mints its
	// own service tokens for registry, as in development.
	act, err := h.startService(ctx, "activity", bin, "--registry-addr", reg.grpcAddr)
	if err != nil {
		h.release(reg.child)
		return "", nil, err
	}
	return act.grpcAddr, func() {
		h.release(act.child)
		h.release(reg.child)
	}, nil
}

// probeFsync writes and fdatasyncs a 16 KiB block n times in a file at
// path, which it removes, and returns the median and 99th percentile.
func probeFsync(path string, n int) (p50, p99 time.Duration, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, 0, err
	}
	defer func() { err = errors.Join(err, f.Close(), os.Remove(path)) }()
	block := make([]byte, 16<<10)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		if _, err := f.WriteAt(block, int64(i%64)*int64(len(block))); err != nil {
			return 0, 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100], nil
}
