package audit

import (
	"fmt"
	"net/http"

	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/problem"
)

// ActorOf is the actor for a signed-in principal.
func ActorOf(p authz.Principal) Actor {
	return Actor{UserID: p.UserID, Role: string(p.Role), SessionID: p.SessionID}
}

// ForRequest returns the event for action done by principal p in request r,
// in region: the actor from p, the request id (when it is a valid id) and
// the client address the router passed on, sealed under the clinic's key
// when c is set (and left out when it is not). The caller sets the resource
// and patient fields.
func ForRequest(r *http.Request, region string, c *fieldcrypt.Crypter, p authz.Principal, action Action, outcome Outcome) (Event, error) {
	e := New(p.ClinicID, region, ActorOf(p), action, outcome)
	if id := problem.RequestIDFrom(r); ValidID(id) {
		e.RequestID = id
	}
	if ip := r.Header.Get(edgeauth.HeaderClientIP); ip != "" && c != nil {
		if err := SealClientIP(r.Context(), c, &e, ip); err != nil {
			return Event{}, fmt.Errorf("audit: event for %s: %w", action, err)
		}
	}
	return e, nil
}
