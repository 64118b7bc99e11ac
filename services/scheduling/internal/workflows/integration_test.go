package workflows

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/libs/temporalcodec"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// live is a reminder setup against the dev server: a real fieldcrypt
// Crypter (its keys in SQLite, or PostgreSQL with HAVEN_TEST_POSTGRES_URL)
// behind the codec, in-memory appointments and a messaging stand-in.
type live struct {
	t     *testing.T
	ctx   context.Context
	store *memAppointments
	codec *temporalcodec.Codec
	c     client.Client
	msg   *messagingStandIn
	logs  *lockedBuffer
	log   *slog.Logger
	tq    string
	sched *Scheduler
}

func newLive(t *testing.T, offsets ...time.Duration) *live {
	t.Helper()
	cfg := devServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	db := storetest.Open(t, nil)
	require.NoError(t, fieldcrypt.Migrate(ctx, db))
	keys := fieldcrypttest.NewMemoryKeys()
	require.NoError(t, temporalcodec.CreateRegionKey(ctx, keys, residency.Montreal)) // identity's job in production
	codec, err := temporalcodec.New(fieldcrypt.New(keys, db, fieldcrypt.Options{}), residency.Montreal, temporalcodec.Options{})
	require.NoError(t, err)
	require.NoError(t, codec.Prepare(ctx))

	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	c, err := Dial(ctx, cfg, codec, logger)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	l := &live{t: t, ctx: ctx, store: newMemAppointments(), codec: codec, c: c, msg: newMessaging(time.Now), logs: logs, log: logger,
		tq: "reminders-" + uuid.NewString()}
	l.sched = &Scheduler{Client: c, TaskQueue: l.tq, Settings: func(context.Context, string) (ReminderSettings, error) {
		return ReminderSettings{Offsets: offsets, Channels: []string{messagingclient.Email}, TimeZone: "America/Toronto"}, nil
	}}
	return l
}

func (l *live) startWorker() func() {
	l.t.Helper()
	w, err := StartWorker(l.c, WorkerDeps{Appointments: l.store, Sender: l.msg, Logger: l.log, TaskQueue: l.tq})
	require.NoError(l.t, err)
	return func() { require.NoError(l.t, w.Close()) }
}

func (l *live) book(start time.Time) domain.Appointment {
	l.t.Helper()
	now := time.Now().UTC()
	a := domain.Appointment{
		ID: uuid.NewString(), ClinicID: uuid.NewString(), PractitionerID: uuid.NewString(), PatientID: uuid.NewString(),
		TreatmentID: uuid.NewString(), LocationID: uuid.NewString(), Start: start.UTC(), End: start.Add(30 * time.Minute).UTC(),
		Status: domain.Booked, CreatedBy: uuid.NewString(), CreatedAt: now, UpdatedAt: now,
	}
	l.store.put(a)
	l.msg.setContact(a.PatientID, markerName+" <"+markerEmail+"> "+markerPhone+" "+markerAddress)
	return a
}

func (l *live) history(id string) []*historypb.HistoryEvent {
	l.t.Helper()
	var out []*historypb.HistoryEvent
	it := l.c.GetWorkflowHistory(l.ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(l.t, err)
		out = append(out, e)
	}
	return out
}

// waitForEvent polls the history until an event of type typ appears.
func (l *live) waitForEvent(id string, typ enumspb.EventType) {
	l.t.Helper()
	require.Eventually(l.t, func() bool {
		for _, e := range l.history(id) {
			if e.GetEventType() == typ {
				return true
			}
		}
		return false
	}, time.Minute, 100*time.Millisecond, "no %s in the history of %s", typ, id)
}

func TestDevServer_WorkerStoppedWhileAReminderWaitsSendsExactlyOnceAndHistoryHoldsNoPersonalData(t *testing.T) {
	l := newLive(t, 10*time.Second)
	a := l.book(time.Now().Add(20 * time.Second).Truncate(time.Second))
	id := WorkflowID(a.ID)

	stop := l.startWorker()
	require.NoError(t, l.sched.Booked(l.ctx, a))
	first, err := l.c.DescribeWorkflowExecution(l.ctx, id, "")
	require.NoError(t, err)
	require.NoError(t, l.sched.Booked(l.ctx, a), "a repeated Booked is harmless")
	again, err := l.c.DescribeWorkflowExecution(l.ctx, id, "")
	require.NoError(t, err)
	require.Equal(t, first.GetWorkflowExecutionInfo().GetExecution().GetRunId(), again.GetWorkflowExecutionInfo().GetExecution().GetRunId())

	// The worker goes away while the reminder waits, and stays away past
	// the reminder time.
	l.waitForEvent(id, enumspb.EVENT_TYPE_TIMER_STARTED)
	stop()
	l.waitForEvent(id, enumspb.EVENT_TYPE_TIMER_FIRED)
	require.Empty(t, l.msg.Sent(), "nothing can send without a worker")

	// A new worker picks the reminder up and sends it once.
	defer l.startWorker()()
	require.NoError(t, l.c.GetWorkflow(l.ctx, id, "").Get(l.ctx, nil), "the workflow ends after its last reminder")
	key := IdempotencyKey(a.ID, a.Start, 10*time.Second, messagingclient.Email)
	require.Equal(t, 1, l.msg.SendsFor(key))
	require.Equal(t, 1, l.msg.Attempts(key))
	sent := l.msg.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, a.PatientID, sent[0].Req.PatientID)
	require.Equal(t, a.Start.Format(time.RFC3339), sent[0].Req.Data["start"])
	require.Equal(t, a.Start.In(mustZone(t, "America/Toronto")).Format(time.RFC3339), sent[0].Req.Data["start_local"])

	// The history, read through the client: every payload sealed, and no
	// personal data anywhere.
	events := l.history(id)
	var sealed, plain int
	for _, e := range events {
		raw, err := proto.Marshal(e)
		require.NoError(t, err)
		for _, m := range append(markers, a.Start.Format(time.RFC3339), "appointment_reminder") {
			require.NotContains(t, string(raw), m, "%s in event %d (%s)", m, e.GetEventId(), e.GetEventType())
		}
		walkPayloads(e.ProtoReflect(), false, func(p *commonpb.Payload, inHeader bool) {
			if inHeader { // trace context only; checked for markers above
				return
			}
			if string(p.GetMetadata()[converter.MetadataEncoding]) == temporalcodec.MetadataEncoding {
				require.Equal(t, l.codec.KeyID(), string(p.GetMetadata()[temporalcodec.MetadataKeyID]))
				sealed++
			} else {
				plain++
			}
		})
	}
	require.Zero(t, plain, "payloads stored in plaintext")
	require.GreaterOrEqual(t, sealed, 5, "input, 2 activity inputs, 2 activity results")

	desc, err := l.c.DescribeWorkflowExecution(l.ctx, id, "")
	require.NoError(t, err)
	require.Empty(t, desc.GetWorkflowExecutionInfo().GetMemo().GetFields(), "no memo")
	for k := range desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
		require.Contains(t, []string{"BuildIds", "TemporalChangeVersion", "TemporalWorkerDeploymentVersion"}, k,
			"custom search attribute set")
	}
	for _, m := range markers {
		require.NotContains(t, l.logs.String(), m)
	}
}

func TestDevServer_SchedulerCancelAndRescheduleThroughTheServer(t *testing.T) {
	l := newLive(t, time.Hour)
	defer l.startWorker()()

	// Cancelled with no workflow is fine.
	require.NoError(t, l.sched.Cancelled(l.ctx, domain.Appointment{ID: uuid.NewString(), ClinicID: uuid.NewString()}))

	// Rescheduled with no workflow starts one at the new time; cancel ends it.
	a := l.book(time.Now().Add(3 * time.Hour).Truncate(time.Second))
	require.NoError(t, l.sched.Rescheduled(l.ctx, a))
	desc, err := l.c.DescribeWorkflowExecution(l.ctx, WorkflowID(a.ID), "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())
	require.NoError(t, l.sched.Cancelled(l.ctx, a))
	require.NoError(t, l.c.GetWorkflow(l.ctx, WorkflowID(a.ID), "").Get(l.ctx, nil))
	require.Empty(t, l.msg.Sent())

	// After it ended, a reschedule starts afresh (the id may be reused).
	require.NoError(t, l.sched.Rescheduled(l.ctx, a))
	desc, err = l.c.DescribeWorkflowExecution(l.ctx, WorkflowID(a.ID), "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())
	require.NoError(t, l.sched.Cancelled(l.ctx, a))
	require.NoError(t, l.sched.Cancelled(l.ctx, a), "cancelling twice is fine")
}

// walkPayloads calls fn for every Payload inside m, saying whether it sits
// in a Header (trace context, which the SDK does not pass through codecs).
func walkPayloads(m protoreflect.Message, inHeader bool, fn func(p *commonpb.Payload, inHeader bool)) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		fn(p, inHeader)
		return
	}
	if _, ok := m.Interface().(*commonpb.Header); ok {
		inHeader = true
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				walkPayloads(v.List().Get(i).Message(), inHeader, fn)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				walkPayloads(mv.Message(), inHeader, fn)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			walkPayloads(v.Message(), inHeader, fn)
		}
		return true
	})
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}
