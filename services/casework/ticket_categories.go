package casework

import (
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// MaxTicketCategories bounds the categories, and so ListTicketCategories.
const MaxTicketCategories = 100

// ReasonTooManyCategories refuses a new category beyond
// MaxTicketCategories.
const ReasonTooManyCategories = "TOO_MANY_CATEGORIES"

// defaultCategories are the categories a new file starts with (issue 16:
// "emergency 24 hours, payment 3 working days, other 14 days"; OTHER's 14
// calendar days are 336 hours).
func defaultCategories() []*pb.TicketCategory {
	return []*pb.TicketCategory{
		{Code: "EMERGENCY", Name: "紧急求助", DeadlineHours: 24, Priority: pb.Priority_PRIORITY_URGENT},
		{Code: "PAYMENT", Name: "待遇发放", DeadlineWorkingDays: 3, Priority: pb.Priority_PRIORITY_HIGH},
		{Code: "CERTIFICATION", Name: "资格认证", DeadlineWorkingDays: 5, Priority: pb.Priority_PRIORITY_NORMAL},
		{Code: "HANDOVER", Name: "移交事务", DeadlineWorkingDays: 10, Priority: pb.Priority_PRIORITY_NORMAL},
		{Code: "OTHER", Name: "其他", DeadlineHours: 14 * 24, Priority: pb.Priority_PRIORITY_NORMAL},
	}
}

// seedCategories writes the default categories into a file that has
// none: the first open.
func (s *Store) seedCategories() error {
	return s.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTicketCategories)
		if k, _ := b.Cursor().First(); k != nil {
			return nil
		}
		for _, c := range defaultCategories() {
			if err := boltstore.PutProto(b, []byte(c.Code), c); err != nil {
				return err
			}
		}
		return nil
	})
}

// Categories returns every category, by code.
func (s *Store) Categories() ([]*pb.TicketCategory, error) {
	var out []*pb.TicketCategory
	err := s.DB().View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTicketCategories).Cursor()
		for k, v := c.First(); k != nil && len(out) < MaxTicketCategories; k, v = c.Next() {
			cat := new(pb.TicketCategory)
			if err := proto.Unmarshal(v, cat); err != nil {
				return err
			}
			out = append(out, cat)
		}
		return nil
	})
	return out, err
}

// SetCategory creates or replaces a validated category. Tickets already
// made keep the due time they were given.
func (s *Store) SetCategory(c *pb.TicketCategory) (*pb.TicketCategory, error) {
	err := s.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTicketCategories)
		if b.Get([]byte(c.Code)) == nil && b.Stats().KeyN >= MaxTicketCategories {
			return fault.Rule(ReasonTooManyCategories, "there are as many categories as allowed; change one instead")
		}
		return boltstore.PutProto(b, []byte(c.Code), c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// categoryOf reads a category in tx; nil when there is none.
func categoryOf(tx *bolt.Tx, code string) (*pb.TicketCategory, error) {
	v := tx.Bucket(bucketTicketCategories).Get([]byte(code))
	if v == nil {
		return nil, nil
	}
	c := new(pb.TicketCategory)
	return c, proto.Unmarshal(v, c)
}

// dueOf is when a ticket of category c made at now is due: now plus the
// hours, or, for working days, the end (23:59:59 China time) of the n-th
// working day after the day of now in China, on the store's calendar. A
// ticket made on a holiday or after hours counts from the day it was
// made all the same: the first working day after it is day one.
func (s *Store) dueOf(c *pb.TicketCategory, now time.Time) time.Time {
	if c.DeadlineHours > 0 {
		return now.Add(time.Duration(c.DeadlineHours) * time.Hour)
	}
	day, _ := s.calendar.AddWorkingDays(workdays.Today(now), int(c.DeadlineWorkingDays))
	y, m, d := day.Date()
	return time.Date(y, m, d, 23, 59, 59, 0, workdays.ChinaTime)
}
