package store_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
)

// BenchmarkBook measures bookings per second through Store.Book, each in
// its own transaction with its audit event, from parallel clients (on
// PostgreSQL when HAVEN_TEST_POSTGRES_URL is set, as make bench in CI
// runs it; SQLite otherwise), and checks afterwards that no practitioner
// is booked twice at once.
//
//   - baseline: the same rows and events, each practitioner's times
//     disjoint by construction, into a table without the no-overlap rule;
//   - distinct: Book with the rule, no two requests for the same time;
//   - contended: Book with the rule, every request for one of a few
//     times of a few practitioners, so most are refused (409).
//
// Reported: bookings/s (successful), attempts/s, and double_bookings,
// which must be 0.
func BenchmarkBook(b *testing.B) {
	for _, mode := range []string{"baseline", "distinct", "contended"} {
		b.Run(mode, func(b *testing.B) { benchmarkBook(b, mode) })
	}
}

func benchmarkBook(b *testing.B, mode string) {
	s := newStore(b)
	db := s.DB().DB
	ctx := context.Background()
	if mode == "baseline" {
		// A copy of appointments' columns without the constraint.
		if err := db.Exec(`CREATE TABLE appointments_baseline AS SELECT * FROM appointments WHERE 1 = 0`).Error; err != nil {
			b.Fatal(err)
		}
	}
	var (
		seq             atomic.Int64
		booked, refused atomic.Int64
	)
	pracs := make([]string, 50)
	for i := range pracs {
		pracs[i] = uuid.NewString()
	}
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(uint64(seq.Add(1)), 7))
		for pb.Next() {
			n := seq.Add(1)
			var a domain.Appointment
			switch mode {
			case "contended":
				// 4 practitioners × 4 half-hours: a few winners, many 409s.
				a = appt(pracs[rng.IntN(4)], t0.Add(time.Duration(rng.IntN(4))*30*time.Minute), 30)
			default:
				// Every request its own practitioner-and-time.
				a = appt(pracs[n%int64(len(pracs))], t0.Add(time.Duration(n)*30*time.Minute), 30)
			}
			ev := audit.New(a.ClinicID, "montreal", audit.Actor{UserID: a.CreatedBy, Role: "front_desk", SessionID: uuid.NewString()},
				audit.AppointmentWrite, audit.Allowed)
			ev.ResourceType, ev.ResourceID, ev.PatientID = "appointment", a.ID, a.PatientID
			var err error
			if mode == "baseline" {
				err = store.InsertUnchecked(ctx, s, "appointments_baseline", a, ev)
			} else {
				err = s.Book(ctx, a, store.Write{Events: []audit.Event{ev}})
			}
			switch {
			case err == nil:
				booked.Add(1)
			case errors.Is(err, domain.ErrSlotTaken):
				refused.Add(1)
			default:
				b.Fatal(err)
			}
		}
	})
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	var doubles int64
	if mode != "baseline" {
		if err := db.Raw(`SELECT count(*) FROM appointments a JOIN appointments o
  ON a.clinic_id = o.clinic_id AND a.practitioner_id = o.practitioner_id AND a.id < o.id
 AND a.status <> 'cancelled' AND o.status <> 'cancelled'
 AND a.starts_at < o.ends_at AND o.starts_at < a.ends_at`).Scan(&doubles).Error; err != nil {
			b.Fatal(err)
		}
		if doubles != 0 {
			b.Fatalf("%d double bookings", doubles)
		}
	}
	b.ReportMetric(float64(booked.Load())/elapsed, "bookings/s")
	b.ReportMetric(float64(booked.Load()+refused.Load())/elapsed, "attempts/s")
	b.ReportMetric(float64(doubles), "double_bookings")
}
