package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// cityCategories are the categories of a community's weekly activities,
// in turn.
var cityCategories = []activityv1.Category{
	activityv1.Category_CULTURE, activityv1.Category_SPORTS, activityv1.Category_HEALTH, activityv1.Category_EDUCATION,
}

// loadActivities gives each community a venue and a year of activities —
// cityWeekly weekly activities of citySessions sessions, from next Monday
// — and registers cityRegistrations of its retirees for each, and sets
// the load times in column col. A year of activities does not grow with
// the city, so they are loaded once.
func (c *city) loadActivities(ctx context.Context, t *cityTable, col int) error {
	now := time.Now().In(cst)
	base := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, cst)
	base = base.AddDate(0, 0, 7-(int(base.Weekday())+6)%7)
	var mu sync.Mutex
	c.activities = make(map[string][]string, len(c.communities))
	start := time.Now()
	err := inParallel(ctx, len(c.communities), cityWorkers, func(ctx context.Context, i int) error {
		ids, err := c.communityActivities(ctx, c.communities[i], base)
		mu.Lock()
		c.activities[c.communities[i]] = ids
		mu.Unlock()
		return err
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	sessions := len(c.communities) * cityWeekly * citySessions
	t.set(fmt.Sprintf("load: a year of activities, activity CreateActivity (%d communities × %d weekly activities × %d sessions, each at the community's venue)",
		len(c.communities), cityWeekly, citySessions), col, fmt.Sprintf("%s (%s)", formatSeconds(elapsed), formatRate(float64(sessions)/elapsed.Seconds(), "sessions")))

	type registration struct{ activity, retiree string }
	var regs []registration
	for _, community := range c.communities {
		for _, a := range c.activities[community] {
			for _, r := range c.members[community] {
				regs = append(regs, registration{a, r})
			}
		}
	}
	start = time.Now()
	err = inParallel(ctx, len(regs), cityWorkers, func(ctx context.Context, i int) error {
		_, err := c.activityc.RegisterRetiree(ctx, &activityv1.RegisterRetireeRequest{ActivityId: regs[i].activity, RetireeId: regs[i].retiree})
		if err != nil {
			return fmt.Errorf("register for an activity: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	t.set(fmt.Sprintf("load: registrations, activity RegisterRetiree (%d retirees of the community for each activity, %d in flight)", cityRegistrations, cityWorkers),
		col, formatLoad(len(regs), time.Since(start)))
	return nil
}

// communityActivities creates community's venue and its weekly
// activities, one a weekday from Monday at 9:00 for an hour and a half,
// and returns their ids.
func (c *city) communityActivities(ctx context.Context, community string, base time.Time) ([]string, error) {
	v, err := c.activityc.CreateVenue(ctx, &activityv1.CreateVenueRequest{Venue: &activityv1.Venue{
		CommunityId: community, Name: "社区活动室", Address: "和平区北市场街1号", Capacity: 60, AreaSqm: 120,
	}})
	if err != nil {
		return nil, fmt.Errorf("create a venue: %w", err)
	}
	ids := make([]string, 0, cityWeekly)
	for j := range cityWeekly {
		first := base.AddDate(0, 0, j).Add(9 * time.Hour)
		a, err := c.activityc.CreateActivity(ctx, &activityv1.CreateActivityRequest{Activity: &activityv1.Activity{
			CommunityId: community, VenueId: v.GetVenue().GetId(), Title: fmt.Sprintf("每周活动%d", j+1), Category: cityCategories[j%len(cityCategories)],
			StartTime: first.Format(time.RFC3339), EndTime: first.Add(90 * time.Minute).Format(time.RFC3339), Capacity: 40,
			Recurrence: &activityv1.Recurrence{IntervalWeeks: 1, Count: citySessions},
		}})
		if err != nil {
			return nil, fmt.Errorf("create a weekly activity: %w", err)
		}
		ids = append(ids, a.GetActivity().GetId())
	}
	return ids, nil
}
