// Package authz makes every authorization decision in Haven: given the
// authenticated caller (Principal), what they want to do (Action) and what
// they want to do it to (Resource), Decide says allow or deny.
//
// A user's permissions are Grants, one level per area (charts, billing,
// schedule, patient contacts) plus an admin flag. A Role is a template that
// fills in those grants when a user is created; the clinic owner may then
// adjust them per user. Two roles also carry fixed ceilings that no grant
// can lift: the billing role never reaches clinical records, patient
// contact details or appointment changes, and a patient only ever reaches
// their own profile and appointments.
//
// Decide denies by default: anything not explicitly allowed below, any
// malformed input and any mismatch between the caller's clinic and the
// resource's clinic is denied. It does no I/O and is safe for concurrent
// use; callers load the resource's owner and practitioners before asking.
package authz

import (
	"errors"
	"fmt"
	"slices"
)

// Role is a named template of Grants that a clinic assigns to each user.
// Its value is the stable snake_case name stored in the database and
// carried in sessions; the zero value is not a valid role.
type Role string

// The six roles a Haven user can have.
const (
	// RoleOwner is the account owner: every grant, and the one who manages
	// the clinic's account itself.
	RoleOwner Role = "owner"
	// RoleAdmin is a clinic administrator with the same grants as the owner.
	RoleAdmin Role = "admin"
	// RolePractitioner treats patients and charts their own visits.
	RolePractitioner Role = "practitioner"
	// RoleFrontDesk books appointments, keeps patient details and takes
	// payments, without access to charts.
	RoleFrontDesk Role = "front_desk"
	// RoleBilling reads invoices, claims and the schedule; it is the role to
	// give a bookkeeper or a billing service, and never reaches clinical
	// records or patient contact details.
	RoleBilling Role = "billing"
	// RolePatient is a patient using the client portal; they reach only
	// their own profile and appointments.
	RolePatient Role = "patient"
)

// ErrUnknownRole reports a role name that is not one of Roles.
var ErrUnknownRole = errors.New("authz: unknown role")

// ErrInvalidGrants reports Grants that Validate rejects.
var ErrInvalidGrants = errors.New("authz: invalid grants")

// Roles returns every role in a fixed order: owner, admin, practitioner,
// front desk, billing, patient. The caller may modify the returned slice.
func Roles() []Role {
	return []Role{RoleOwner, RoleAdmin, RolePractitioner, RoleFrontDesk, RoleBilling, RolePatient}
}

// ParseRole returns the Role named s. Names are matched exactly, in lower
// snake_case; anything else yields an error wrapping ErrUnknownRole.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleOwner, RoleAdmin, RolePractitioner, RoleFrontDesk, RoleBilling, RolePatient:
		return r, nil
	default:
		return "", fmt.Errorf("%w: %q", ErrUnknownRole, s)
	}
}

// Staff reports whether r is a clinic staff role, that is every known role
// but patient. An unknown role is not staff.
func (r Role) Staff() bool {
	switch r {
	case RoleOwner, RoleAdmin, RolePractitioner, RoleFrontDesk, RoleBilling:
		return true
	default:
		return false
	}
}

// valid reports whether r is one of Roles.
func (r Role) valid() bool {
	return r.Staff() || r == RolePatient
}

// ChartAccess is how much of the clinic's charts a user may read:
// ChartsNone, ChartsOwn or ChartsAll.
type ChartAccess string

// The chart access levels.
const (
	// ChartsNone gives no access to charts or clinical notes.
	ChartsNone ChartAccess = "none"
	// ChartsOwn gives access to the user's own chart entries, to the charts
	// of patients they treat or are assigned to, and to the entries of the
	// practitioners named in Grants.ChartPractitioners.
	ChartsOwn ChartAccess = "own"
	// ChartsAll gives read access to every chart in the clinic.
	ChartsAll ChartAccess = "all"
)

// BillingAccess is what a user may do with invoices, payments, claims and
// insurance policies: BillingNone, BillingRead or BillingWrite.
type BillingAccess string

// The billing access levels.
const (
	// BillingNone gives no access to billing records.
	BillingNone BillingAccess = "none"
	// BillingRead lets the user see billing records.
	BillingRead BillingAccess = "read"
	// BillingWrite lets the user see and change billing records.
	BillingWrite BillingAccess = "write"
)

// ScheduleAccess is whose appointments a user may see (and, outside the
// billing role, book or change): ScheduleNone, ScheduleOwn or ScheduleAll.
type ScheduleAccess string

// The schedule access levels.
const (
	// ScheduleNone gives no access to the schedule.
	ScheduleNone ScheduleAccess = "none"
	// ScheduleOwn gives access to the user's own appointments.
	ScheduleOwn ScheduleAccess = "own"
	// ScheduleAll gives access to every practitioner's appointments.
	ScheduleAll ScheduleAccess = "all"
)

// ContactAccess is what a user may do with patients' contact details
// (phone, e-mail, address): ContactsNone, ContactsRead or ContactsWrite.
type ContactAccess string

// The contact access levels.
const (
	// ContactsNone gives no access to patient contact details.
	ContactsNone ContactAccess = "none"
	// ContactsRead lets the user see patient contact details.
	ContactsRead ContactAccess = "read"
	// ContactsWrite lets the user see and change patient contact details
	// and patient profiles.
	ContactsWrite ContactAccess = "write"
)

// Grants are what one user may do, area by area. They start as the
// template of the user's role (RoleGrants) and may be adjusted per user by
// the clinic. Every level must be set explicitly: the empty string is not
// a level, so a zero Grants is invalid and Decide denies everything to it.
type Grants struct {
	// Charts is the user's access to charts and clinical notes.
	Charts ChartAccess `json:"charts"`
	// Billing is the user's access to invoices, payments, claims and
	// insurance policies.
	Billing BillingAccess `json:"billing"`
	// Schedule is the user's access to appointments and the calendar.
	Schedule ScheduleAccess `json:"schedule"`
	// Contacts is the user's access to patient contact details.
	Contacts ContactAccess `json:"contacts"`
	// Admin lets the user manage users and clinic settings and read the
	// activity log.
	Admin bool `json:"admin"`
	// ChartPractitioners are the user ids of practitioners whose chart
	// entries this user may also read (the owner's "named practitioners"
	// grant). It is only allowed with Charts set to ChartsOwn.
	ChartPractitioners []string `json:"chart_practitioners,omitempty"`
}

// RoleGrants returns the template grants of role r. An unknown role gets
// grants with every level set to none and no admin.
func RoleGrants(r Role) Grants {
	switch r {
	case RoleOwner, RoleAdmin:
		return Grants{Charts: ChartsAll, Billing: BillingWrite, Schedule: ScheduleAll, Contacts: ContactsWrite, Admin: true}
	case RolePractitioner:
		return Grants{Charts: ChartsOwn, Billing: BillingRead, Schedule: ScheduleOwn, Contacts: ContactsRead}
	case RoleFrontDesk:
		return Grants{Charts: ChartsNone, Billing: BillingWrite, Schedule: ScheduleAll, Contacts: ContactsWrite}
	case RoleBilling:
		return Grants{Charts: ChartsNone, Billing: BillingRead, Schedule: ScheduleAll, Contacts: ContactsNone}
	default:
		return Grants{Charts: ChartsNone, Billing: BillingNone, Schedule: ScheduleNone, Contacts: ContactsNone}
	}
}

// Validate reports whether g is well formed: every level is one of its
// documented values, and ChartPractitioners holds only non-empty ids and
// is used only with ChartsOwn. The error names each offending field (by
// its JSON name) and wraps ErrInvalidGrants.
func (g Grants) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidGrants, field, fmt.Sprintf(format, args...)))
	}
	switch g.Charts {
	case ChartsNone, ChartsOwn, ChartsAll:
	default:
		bad("charts", "unknown value %q", g.Charts)
	}
	switch g.Billing {
	case BillingNone, BillingRead, BillingWrite:
	default:
		bad("billing", "unknown value %q", g.Billing)
	}
	switch g.Schedule {
	case ScheduleNone, ScheduleOwn, ScheduleAll:
	default:
		bad("schedule", "unknown value %q", g.Schedule)
	}
	switch g.Contacts {
	case ContactsNone, ContactsRead, ContactsWrite:
	default:
		bad("contacts", "unknown value %q", g.Contacts)
	}
	if len(g.ChartPractitioners) > 0 && g.Charts != ChartsOwn {
		bad("chart_practitioners", "only allowed with charts %q", ChartsOwn)
	}
	if slices.Contains(g.ChartPractitioners, "") {
		bad("chart_practitioners", "empty user id")
	}
	return errors.Join(errs...)
}

// Principal is the authenticated caller, built from a verified session.
type Principal struct {
	// ClinicID is the clinic the session belongs to.
	ClinicID string
	// UserID is the signed-in user.
	UserID string
	// SessionID is the session the request came with.
	SessionID string
	// Role is the user's role.
	Role Role
	// Grants are the user's permissions. A patient's grants are validated
	// but never consulted: patients are limited to their own records.
	Grants Grants
	// PatientID links a patient-role user to their patient profile (may be
	// empty, in which case they reach no patient records at all).
	PatientID string
}

// Action is something a caller wants to do. The set is closed: Actions
// lists every action, and Decide denies any other value.
type Action string

// The actions Decide knows. Each names the data it protects.
const (
	// ActionChartRead reads chart entries.
	ActionChartRead Action = "chart.read"
	// ActionChartWrite creates or edits a chart entry.
	ActionChartWrite Action = "chart.write"
	// ActionChartSign signs (locks) a chart entry.
	ActionChartSign Action = "chart.sign"
	// ActionChartExport exports chart entries (for example to PDF).
	ActionChartExport Action = "chart.export"
	// ActionClinicalNoteRead reads clinical notes attached to appointments.
	ActionClinicalNoteRead Action = "clinical_note.read"
	// ActionPatientRead reads a patient's identity: name and date of birth,
	// what billing needs for claims.
	ActionPatientRead Action = "patient.read"
	// ActionPatientWrite creates or edits a patient profile.
	ActionPatientWrite Action = "patient.write"
	// ActionPatientContactRead reads a patient's phone, e-mail and address.
	ActionPatientContactRead Action = "patient.contact.read"
	// ActionPatientContactWrite changes a patient's phone, e-mail and address.
	ActionPatientContactWrite Action = "patient.contact.write"
	// ActionAppointmentRead reads an appointment.
	ActionAppointmentRead Action = "appointment.read"
	// ActionAppointmentWrite books, moves or cancels an appointment.
	ActionAppointmentWrite Action = "appointment.write"
	// ActionScheduleRead reads a practitioner's calendar and availability.
	ActionScheduleRead Action = "schedule.read"
	// ActionBillingRead reads invoices, payments, claims and insurance
	// policies.
	ActionBillingRead Action = "billing.read"
	// ActionBillingWrite changes invoices, payments, claims and insurance
	// policies.
	ActionBillingWrite Action = "billing.write"
	// ActionUserRead reads the clinic's users and their grants.
	ActionUserRead Action = "user.read"
	// ActionUserManage creates, changes and deactivates users.
	ActionUserManage Action = "user.manage"
	// ActionSettingsRead reads clinic settings.
	ActionSettingsRead Action = "settings.read"
	// ActionSettingsManage changes clinic settings.
	ActionSettingsManage Action = "settings.manage"
	// ActionActivityRead reads the activity log and login history.
	ActionActivityRead Action = "activity.read"
)

// allActions is the closed set of actions, in the order Actions returns.
var allActions = [...]Action{
	ActionChartRead, ActionChartWrite, ActionChartSign, ActionChartExport, ActionClinicalNoteRead,
	ActionPatientRead, ActionPatientWrite, ActionPatientContactRead, ActionPatientContactWrite,
	ActionAppointmentRead, ActionAppointmentWrite, ActionScheduleRead,
	ActionBillingRead, ActionBillingWrite,
	ActionUserRead, ActionUserManage, ActionSettingsRead, ActionSettingsManage, ActionActivityRead,
}

// Actions returns every action Decide knows, in a fixed order. The caller
// may modify the returned slice.
func Actions() []Action {
	return slices.Clone(allActions[:])
}

// known reports whether a is one of Actions.
func (a Action) known() bool {
	return slices.Contains(allActions[:], a)
}

// Resource describes what an action is applied to. A field left empty
// means "not applicable" and never matches the caller.
type Resource struct {
	// ClinicID is the clinic the resource belongs to. It must be set and
	// equal to the caller's clinic.
	ClinicID string
	// OwnerUserID is the practitioner a chart entry or appointment belongs
	// to.
	OwnerUserID string
	// PractitionerIDs are the practitioners associated with the patient
	// concerned (who treated them or are assigned to them).
	PractitionerIDs []string
	// PatientID is the patient concerned.
	PatientID string
}

// Decision is the outcome of Decide.
type Decision struct {
	// Allow is true only when the action is permitted.
	Allow bool
	// Reason is a short fixed phrase saying why, safe to log: it never
	// holds names or other personal data.
	Reason string
}

// The reasons Decide gives. They are fixed phrases so that logs and
// dashboards can group by them.
const (
	reasonNoClinic         = "denied: principal has no clinic"
	reasonNoUser           = "denied: principal has no user"
	reasonResourceNoClinic = "denied: resource has no clinic"
	reasonOtherClinic      = "denied: resource belongs to another clinic"
	reasonUnknownRole      = "denied: unknown role"
	reasonUnknownAction    = "denied: unknown action"
	reasonInvalidGrants    = "denied: invalid grants"

	reasonBillingNoCharts       = "denied: billing role has no chart access"
	reasonBillingNoContacts     = "denied: billing role has no contact access"
	reasonBillingNoPatientWrite = "denied: billing role cannot change patients"
	reasonBillingNoApptWrite    = "denied: billing role cannot change appointments"

	reasonNoCharts        = "denied: no chart access"
	reasonNotOwnChart     = "denied: not own patient or chart entry"
	reasonNotOwnEntry     = "denied: not own chart entry"
	reasonAllCharts       = "allowed: all charts"
	reasonOwnEntry        = "allowed: own chart entry"
	reasonOwnPatient      = "allowed: own patient"
	reasonNamedPract      = "allowed: named practitioner"
	reasonNoPatientAccess = "denied: no patient access"
	reasonPatientAccess   = "allowed: staff with patient access"
	reasonNoPatientWrite  = "denied: no patient write access"
	reasonPatientWrite    = "allowed: patient write access"
	reasonNoContacts      = "denied: no contact access"
	reasonNoContactWrite  = "denied: no contact write access"
	reasonContacts        = "allowed: contact access"
	reasonNoSchedule      = "denied: no schedule access"
	reasonNotOwnSchedule  = "denied: not own schedule"
	reasonAllSchedules    = "allowed: all schedules"
	reasonOwnSchedule     = "allowed: own schedule"
	reasonNoBilling       = "denied: no billing access"
	reasonNoBillingWrite  = "denied: no billing write access"
	reasonBilling         = "allowed: billing access"
	reasonNotAdmin        = "denied: not an admin"
	reasonAdmin           = "allowed: admin"
	reasonStaff           = "allowed: staff"

	reasonPatientOwnRecord  = "allowed: patient's own record"
	reasonPatientNotOwn     = "denied: not the patient's own record"
	reasonPatientNotAllowed = "denied: patient role has no access"
	reasonPatientUnlinked   = "denied: patient user has no patient profile"
	reasonNoRule            = "denied: no rule"
)

// Decide reports whether p may perform a on r, and why. It denies unless a
// rule allows:
//
//   - the caller must have a clinic and a user, r.ClinicID must be set and
//     equal p.ClinicID, and p.Role, a and p.Grants must be valid;
//   - chart.read, clinical_note.read and chart.export: Charts all, or
//     Charts own and r is the caller's own entry (r.OwnerUserID), the
//     caller's patient (r.PractitionerIDs) or a named practitioner's entry
//     (Grants.ChartPractitioners);
//   - chart.write and chart.sign: the caller's own entry, with Charts not
//     none;
//   - patient.read: staff with any area not none; patient.write: Contacts
//     write or Charts all; patient.contact.read: Contacts read or write;
//     patient.contact.write: Contacts write;
//   - appointment.read, appointment.write and schedule.read: Schedule all,
//     or Schedule own and the caller's own appointment (r.OwnerUserID);
//   - billing.read: Billing read or write; billing.write: Billing write;
//   - settings.read: any staff; user.read, user.manage, settings.manage
//     and activity.read: Admin;
//   - the billing role never gets chart.*, clinical_note.read,
//     patient.write, patient.contact.* or appointment.write, whatever its
//     grants;
//   - a patient gets only patient.read, patient.contact.read,
//     appointment.read and appointment.write, and only on their own
//     records (r.PatientID equal to a non-empty p.PatientID).
func Decide(p Principal, a Action, r Resource) Decision {
	switch {
	case p.ClinicID == "":
		return deny(reasonNoClinic)
	case p.UserID == "":
		return deny(reasonNoUser)
	case r.ClinicID == "":
		return deny(reasonResourceNoClinic)
	case r.ClinicID != p.ClinicID:
		return deny(reasonOtherClinic)
	case !p.Role.valid():
		return deny(reasonUnknownRole)
	case !a.known():
		return deny(reasonUnknownAction)
	case p.Grants.Validate() != nil:
		return deny(reasonInvalidGrants)
	}
	if p.Role == RolePatient {
		return decidePatient(p, a, r)
	}
	if p.Role == RoleBilling {
		if d, capped := billingCeiling(a); capped {
			return d
		}
	}
	return decideStaff(p, a, r)
}

// billingCeiling returns the denial for actions the billing role may never
// perform, whatever its grants say.
func billingCeiling(a Action) (Decision, bool) {
	switch a {
	case ActionChartRead, ActionChartWrite, ActionChartSign, ActionChartExport, ActionClinicalNoteRead:
		return deny(reasonBillingNoCharts), true
	case ActionPatientContactRead, ActionPatientContactWrite:
		return deny(reasonBillingNoContacts), true
	case ActionPatientWrite:
		return deny(reasonBillingNoPatientWrite), true
	case ActionAppointmentWrite:
		return deny(reasonBillingNoApptWrite), true
	default:
		return Decision{}, false
	}
}

// decidePatient applies the patient role's fixed rules: their own profile,
// contact details and appointments, nothing else.
func decidePatient(p Principal, a Action, r Resource) Decision {
	switch a {
	case ActionPatientRead, ActionPatientContactRead, ActionAppointmentRead, ActionAppointmentWrite:
		switch {
		case p.PatientID == "":
			return deny(reasonPatientUnlinked)
		case r.PatientID != p.PatientID:
			return deny(reasonPatientNotOwn)
		default:
			return allow(reasonPatientOwnRecord)
		}
	default:
		return deny(reasonPatientNotAllowed)
	}
}

// decideStaff applies the grant rules for staff roles.
func decideStaff(p Principal, a Action, r Resource) Decision {
	g := p.Grants
	switch a {
	case ActionChartRead, ActionClinicalNoteRead, ActionChartExport:
		switch g.Charts {
		case ChartsAll:
			return allow(reasonAllCharts)
		case ChartsOwn:
			switch {
			case r.OwnerUserID == p.UserID:
				return allow(reasonOwnEntry)
			case slices.Contains(r.PractitionerIDs, p.UserID):
				return allow(reasonOwnPatient)
			case r.OwnerUserID != "" && slices.Contains(g.ChartPractitioners, r.OwnerUserID):
				return allow(reasonNamedPract)
			default:
				return deny(reasonNotOwnChart)
			}
		default:
			return deny(reasonNoCharts)
		}

	case ActionChartWrite, ActionChartSign:
		switch {
		case g.Charts == ChartsNone:
			return deny(reasonNoCharts)
		case r.OwnerUserID != p.UserID:
			return deny(reasonNotOwnEntry)
		default:
			return allow(reasonOwnEntry)
		}

	case ActionPatientRead:
		if g.Charts != ChartsNone || g.Billing != BillingNone || g.Schedule != ScheduleNone || g.Contacts != ContactsNone {
			return allow(reasonPatientAccess)
		}
		return deny(reasonNoPatientAccess)

	case ActionPatientWrite:
		if g.Contacts == ContactsWrite || g.Charts == ChartsAll {
			return allow(reasonPatientWrite)
		}
		return deny(reasonNoPatientWrite)

	case ActionPatientContactRead:
		if g.Contacts == ContactsRead || g.Contacts == ContactsWrite {
			return allow(reasonContacts)
		}
		return deny(reasonNoContacts)

	case ActionPatientContactWrite:
		if g.Contacts == ContactsWrite {
			return allow(reasonContacts)
		}
		return deny(reasonNoContactWrite)

	case ActionAppointmentRead, ActionAppointmentWrite, ActionScheduleRead:
		switch g.Schedule {
		case ScheduleAll:
			return allow(reasonAllSchedules)
		case ScheduleOwn:
			if r.OwnerUserID == p.UserID {
				return allow(reasonOwnSchedule)
			}
			return deny(reasonNotOwnSchedule)
		default:
			return deny(reasonNoSchedule)
		}

	case ActionBillingRead:
		if g.Billing == BillingRead || g.Billing == BillingWrite {
			return allow(reasonBilling)
		}
		return deny(reasonNoBilling)

	case ActionBillingWrite:
		if g.Billing == BillingWrite {
			return allow(reasonBilling)
		}
		return deny(reasonNoBillingWrite)

	case ActionSettingsRead:
		return allow(reasonStaff)

	case ActionUserRead, ActionUserManage, ActionSettingsManage, ActionActivityRead:
		if g.Admin {
			return allow(reasonAdmin)
		}
		return deny(reasonNotAdmin)
	}
	return deny(reasonNoRule)
}

// allow returns an allowing Decision with the given reason.
func allow(reason string) Decision { return Decision{Allow: true, Reason: reason} }

// deny returns a denying Decision with the given reason.
func deny(reason string) Decision { return Decision{Allow: false, Reason: reason} }
