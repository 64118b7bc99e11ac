package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
	"github.com/havenhealth/haven/services/scheduling/migrations"
)

func newStore(t testing.TB) *store.Store {
	t.Helper()
	db := storetest.Open(t, migrations.FS)
	require.NoError(t, audit.Migrate(context.Background(), db))
	return store.New(db)
}

var (
	clinic = uuid.NewString()
	t0     = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC) // 10:00 in Auckland
)

func appt(practitioner string, start time.Time, minutes int) domain.Appointment {
	now := time.Now().UTC()
	return domain.Appointment{
		ID: uuid.NewString(), ClinicID: clinic, PractitionerID: practitioner, PatientID: uuid.NewString(),
		TreatmentID: uuid.NewString(), LocationID: uuid.NewString(), Start: start, End: start.Add(time.Duration(minutes) * time.Minute),
		Status: domain.Booked, CreatedBy: uuid.NewString(), CreatedAt: now, UpdatedAt: now,
	}
}

// TestBook_TwentyConcurrentRequestsForOneSlot: exactly one wins, on
// PostgreSQL (exclusion constraint) and SQLite (trigger) alike.
func TestBook_TwentyConcurrentRequestsForOneSlot(t *testing.T) {
	s := newStore(t)
	prac := uuid.NewString()
	const n = 20
	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		booked, taken int
		unexpected    []error
		start         = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Every request wants 10:00-10:45, some shifted inside it.
			err := s.Book(context.Background(), appt(prac, t0.Add(time.Duration(i%3)*5*time.Minute), 45), store.Write{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				booked++
			case errors.Is(err, domain.ErrSlotTaken):
				taken++
			default:
				unexpected = append(unexpected, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	require.Empty(t, unexpected)
	require.Equal(t, 1, booked)
	require.Equal(t, n-1, taken)
}

func TestBook_BackToBackOtherPractitionerAndCancelledDoNotClash(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a, b := uuid.NewString(), uuid.NewString()
	first := appt(a, t0, 30)
	require.NoError(t, s.Book(ctx, first, store.Write{}))
	require.NoError(t, s.Book(ctx, appt(a, t0.Add(30*time.Minute), 30), store.Write{}), "back to back: end is exclusive")
	require.NoError(t, s.Book(ctx, appt(b, t0, 30), store.Write{}), "another practitioner")
	require.ErrorIs(t, s.Book(ctx, appt(a, t0.Add(10*time.Minute), 10), store.Write{}), domain.ErrSlotTaken)

	require.NoError(t, s.SetStatus(ctx, clinic, first.ID, domain.Cancelled, store.Write{}))
	require.NoError(t, s.Book(ctx, appt(a, t0.Add(10*time.Minute), 10), store.Write{}), "a cancelled appointment frees its time")
	require.ErrorIs(t, s.SetStatus(ctx, clinic, first.ID, domain.Booked, store.Write{}), domain.ErrSlotTaken, "un-cancelling into a taken slot")
}

func TestReschedule_IntoATakenSlotChangesNothing(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	p := uuid.NewString()
	x, y := appt(p, t0, 30), appt(p, t0.Add(time.Hour), 30)
	require.NoError(t, s.Book(ctx, x, store.Write{}))
	require.NoError(t, s.Book(ctx, y, store.Write{}))
	_, err := s.Reschedule(ctx, clinic, y.ID, t0.Add(15*time.Minute), t0.Add(45*time.Minute), store.Write{})
	require.ErrorIs(t, err, domain.ErrSlotTaken)
	got, err := s.Appointment(ctx, clinic, y.ID)
	require.NoError(t, err)
	require.True(t, got.Start.Equal(y.Start))
	moved, err := s.Reschedule(ctx, clinic, y.ID, t0.Add(30*time.Minute), t0.Add(time.Hour), store.Write{})
	require.NoError(t, err)
	require.True(t, moved.Start.Equal(t0.Add(30*time.Minute)))
	require.ErrorIs(t, s.Book(ctx, appt(p, t0, 0), store.Write{}), domain.ErrInvalid)
}
