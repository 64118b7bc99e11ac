package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// The system actors of identity's audit events.
const (
	// actorRouter provisions clinics (the sign-up call).
	actorRouter = "router"
	// actorClosure is identity's closure process, which destroys a closing
	// clinic's key.
	actorClosure = "identity.closure"
	// actorUnauthenticated is a caller not (yet) proven to be anyone.
	actorUnauthenticated = "unauthenticated"
	// actorSelfSignup is identity's patient self sign-up creating an
	// account for a caller proven to be no one yet (the e-mail is proven
	// when the invitation is accepted, recorded with the user as actor).
	actorSelfSignup = "identity.self_signup"
)

// target is what an audited action was done to: a resource type and id.
type target struct{ Type, ID string }

func userTarget(id string) target     { return target{"user", id} }
func clinicTarget(id string) target   { return target{"clinic", id} }
func settingsTarget(id string) target { return target{"settings", id} }
func sessionTarget(id string) target  { return target{"session", id} }

// actorOf is a signed-in principal as an audit actor: ids only.
func actorOf(p authz.Principal) audit.Actor {
	return audit.Actor{UserID: p.UserID, Role: string(p.Role), SessionID: p.SessionID}
}

// newEvent is the one way identity builds an audit event: ids only, the
// request id from ctx (when there is one), the client address (when known) sealed under the
// clinic's key. Build events before the transaction that records them:
// sealing may write the clinic's first data key.
func (a *App) newEvent(ctx context.Context, clinicID string, actor audit.Actor, action audit.Action, outcome audit.Outcome,
	t target, meta RequestMeta) (audit.Event, error) {
	ev := audit.New(clinicID, string(a.d.Region), actor, action, outcome)
	ev.ResourceType, ev.ResourceID = t.Type, t.ID
	if id := problem.RequestIDFromContext(ctx); audit.ValidID(id) {
		ev.RequestID = id // httpserver admits only such ids; anything else would fail the event
	}
	if meta.IP != "" && a.d.Crypter != nil {
		if err := audit.SealClientIP(ctx, a.d.Crypter, &ev, meta.IP); err != nil {
			return audit.Event{}, fmt.Errorf("audit event %s: %w", action, err)
		}
	}
	return ev, nil
}

// actedBy is the event of an action principal p was allowed to do.
func (a *App) actedBy(ctx context.Context, p authz.Principal, action audit.Action, t target, meta RequestMeta) (audit.Event, error) {
	return a.newEvent(ctx, p.ClinicID, actorOf(p), action, audit.Allowed, t, meta)
}

// refused returns err unchanged; when err is an authorisation refusal it
// first records one denied event of p's attempt. Nothing changed, so there
// is nothing to commit with: the event is recorded on its own, and a
// failure to record it is logged rather than answered (the caller is
// refused either way).
func (a *App) refused(ctx context.Context, p authz.Principal, action audit.Action, t target, meta RequestMeta, err error) error {
	if !errors.Is(err, domain.ErrForbidden) {
		return err
	}
	ev, berr := a.newEvent(ctx, p.ClinicID, actorOf(p), action, audit.Denied, t, meta)
	if berr == nil {
		berr = a.d.Store.RecordAudit(context.WithoutCancel(ctx), ev)
	}
	if berr != nil {
		a.d.Logger.ErrorContext(ctx, "denied attempt not audited", slog.String("clinic_id", p.ClinicID),
			slog.String("action", string(action)), slog.String("error", berr.Error()))
	}
	return err
}

// recordAround audits a change kept outside identity's database (sessions
// in Redis, keys in Vault), which cannot share a transaction with its event.
//
// The event is recorded first and the change is not made without it ("no
// event, no change"). If the change then fails, the request fails too, and
// a second event of the same action and request id with outcome failed is
// recorded: the first event alone would claim a change (a session ended, a
// key rotated) that did not happen, and an investigator must not believe a
// session ended when it is still usable. Failing the request alone would
// leave that false record; recording only after the change would let a
// change happen unaudited whenever the outbox write fails.
func (a *App) recordAround(ctx context.Context, ev audit.Event, change func() error) error {
	if err := a.d.Store.RecordAudit(ctx, ev); err != nil {
		return fmt.Errorf("audit %s: %w", ev.Action, err)
	}
	err := change()
	if err == nil {
		return nil
	}
	failed := ev
	// A fresh id and time; the client address stays on the first event,
	// which the request id links this one to.
	failed.ID, failed.Outcome, failed.ClientIP = uuid.Must(uuid.NewV7()).String(), audit.Failed, ""
	failed.OccurredAt = time.Now().UTC().Truncate(time.Microsecond)
	if ferr := a.d.Store.RecordAudit(context.WithoutCancel(ctx), failed); ferr != nil {
		a.d.Logger.ErrorContext(ctx, "failed change not audited", slog.String("clinic_id", ev.ClinicID),
			slog.String("action", string(ev.Action)), slog.String("error", ferr.Error()))
	}
	return err
}
