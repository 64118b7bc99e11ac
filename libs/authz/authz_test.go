package authz

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	clinic      = "clinic-1"
	otherClinic = "clinic-2"
	selfPatient = "patient-self"
	otherUser   = "user-other"
)

// want is the expected outcome of one role × action pair on the caller's
// own resource and on someone else's.
type want struct{ own, other bool }

var (
	both    = want{own: true, other: true}
	ownOnly = want{own: true, other: false}
	neither = want{own: false, other: false}
)

// matrix is the permission table, written out by hand from the product
// rules rather than derived from the code under test. "Own" is a chart
// entry, appointment and patient that belong to the caller; "other" belongs
// to another practitioner and another patient.
var matrix = map[Role]map[Action]want{
	RoleOwner: {
		ActionChartRead: both, ActionChartWrite: ownOnly, ActionChartSign: ownOnly, ActionChartExport: both, ActionClinicalNoteRead: both,
		ActionPatientRead: both, ActionPatientWrite: both, ActionPatientContactRead: both, ActionPatientContactWrite: both,
		ActionAppointmentRead: both, ActionAppointmentWrite: both, ActionScheduleRead: both,
		ActionBillingRead: both, ActionBillingWrite: both,
		ActionUserRead: both, ActionUserManage: both, ActionSettingsRead: both, ActionSettingsManage: both, ActionActivityRead: both,
	},
	RoleAdmin: {
		ActionChartRead: both, ActionChartWrite: ownOnly, ActionChartSign: ownOnly, ActionChartExport: both, ActionClinicalNoteRead: both,
		ActionPatientRead: both, ActionPatientWrite: both, ActionPatientContactRead: both, ActionPatientContactWrite: both,
		ActionAppointmentRead: both, ActionAppointmentWrite: both, ActionScheduleRead: both,
		ActionBillingRead: both, ActionBillingWrite: both,
		ActionUserRead: both, ActionUserManage: both, ActionSettingsRead: both, ActionSettingsManage: both, ActionActivityRead: both,
	},
	RolePractitioner: {
		ActionChartRead: ownOnly, ActionChartWrite: ownOnly, ActionChartSign: ownOnly, ActionChartExport: ownOnly, ActionClinicalNoteRead: ownOnly,
		ActionPatientRead: both, ActionPatientWrite: neither, ActionPatientContactRead: both, ActionPatientContactWrite: neither,
		ActionAppointmentRead: ownOnly, ActionAppointmentWrite: ownOnly, ActionScheduleRead: ownOnly,
		ActionBillingRead: both, ActionBillingWrite: neither,
		ActionUserRead: neither, ActionUserManage: neither, ActionSettingsRead: both, ActionSettingsManage: neither, ActionActivityRead: neither,
	},
	RoleFrontDesk: {
		ActionChartRead: neither, ActionChartWrite: neither, ActionChartSign: neither, ActionChartExport: neither, ActionClinicalNoteRead: neither,
		ActionPatientRead: both, ActionPatientWrite: both, ActionPatientContactRead: both, ActionPatientContactWrite: both,
		ActionAppointmentRead: both, ActionAppointmentWrite: both, ActionScheduleRead: both,
		ActionBillingRead: both, ActionBillingWrite: both,
		ActionUserRead: neither, ActionUserManage: neither, ActionSettingsRead: both, ActionSettingsManage: neither, ActionActivityRead: neither,
	},
	RoleBilling: {
		ActionChartRead: neither, ActionChartWrite: neither, ActionChartSign: neither, ActionChartExport: neither, ActionClinicalNoteRead: neither,
		ActionPatientRead: both, ActionPatientWrite: neither, ActionPatientContactRead: neither, ActionPatientContactWrite: neither,
		ActionAppointmentRead: both, ActionAppointmentWrite: neither, ActionScheduleRead: both,
		ActionBillingRead: both, ActionBillingWrite: neither,
		ActionUserRead: neither, ActionUserManage: neither, ActionSettingsRead: both, ActionSettingsManage: neither, ActionActivityRead: neither,
	},
	RolePatient: {
		ActionChartRead: neither, ActionChartWrite: neither, ActionChartSign: neither, ActionChartExport: neither, ActionClinicalNoteRead: neither,
		ActionPatientRead: ownOnly, ActionPatientWrite: neither, ActionPatientContactRead: ownOnly, ActionPatientContactWrite: neither,
		ActionAppointmentRead: ownOnly, ActionAppointmentWrite: ownOnly, ActionScheduleRead: neither,
		ActionBillingRead: neither, ActionBillingWrite: neither,
		ActionUserRead: neither, ActionUserManage: neither, ActionSettingsRead: neither, ActionSettingsManage: neither, ActionActivityRead: neither,
	},
}

// principal returns a signed-in user of role r with r's template grants.
func principal(r Role) Principal {
	p := Principal{ClinicID: clinic, UserID: "user-" + string(r), SessionID: "session-1", Role: r, Grants: RoleGrants(r)}
	if r == RolePatient {
		p.PatientID = selfPatient
	}
	return p
}

// ownResource is a record that belongs to p: p's chart entry or
// appointment, about a patient p treats (or, for a patient, about p).
func ownResource(p Principal) Resource {
	patient := "patient-treated"
	if p.PatientID != "" {
		patient = p.PatientID
	}
	return Resource{ClinicID: clinic, OwnerUserID: p.UserID, PractitionerIDs: []string{p.UserID}, PatientID: patient}
}

// otherResource is a record that belongs to another practitioner and
// another patient in the same clinic.
func otherResource() Resource {
	return Resource{ClinicID: clinic, OwnerUserID: otherUser, PractitionerIDs: []string{otherUser}, PatientID: "patient-other"}
}

func TestDecide_MatrixCoversEveryRoleAndAction(t *testing.T) {
	require.ElementsMatch(t, Roles(), slices.Collect(maps.Keys(matrix)))
	for role, row := range matrix {
		require.ElementsMatch(t, Actions(), slices.Collect(maps.Keys(row)), "matrix row for %s", role)
	}
}

func TestDecide_Matrix(t *testing.T) {
	for _, role := range Roles() {
		for _, action := range Actions() {
			w := matrix[role][action]
			t.Run(fmt.Sprintf("%s/%s", role, action), func(t *testing.T) {
				p := principal(role)

				d := Decide(p, action, ownResource(p))
				require.Equal(t, w.own, d.Allow, "own resource: %s", d.Reason)
				requireReason(t, d)

				d = Decide(p, action, otherResource())
				require.Equal(t, w.other, d.Allow, "someone else's resource: %s", d.Reason)
				requireReason(t, d)
			})
		}
	}
}

func TestDecide_DeniesAcrossClinics(t *testing.T) {
	resources := map[string]func(Principal) Resource{
		"other clinic": func(p Principal) Resource {
			r := ownResource(p)
			r.ClinicID = otherClinic
			return r
		},
		"resource without clinic": func(p Principal) Resource {
			r := ownResource(p)
			r.ClinicID = ""
			return r
		},
	}
	for name, resource := range resources {
		for _, role := range Roles() {
			for _, action := range Actions() {
				p := principal(role)
				d := Decide(p, action, resource(p))
				require.False(t, d.Allow, "%s: %s %s", name, role, action)
				requireReason(t, d)
			}
		}
	}

	p := principal(RoleOwner)
	p.ClinicID = ""
	d := Decide(p, ActionSettingsRead, Resource{})
	require.False(t, d.Allow, "principal and resource without clinic must not match")
	require.Equal(t, "denied: principal has no clinic", d.Reason)

	d = Decide(principal(RoleOwner), ActionChartRead, Resource{ClinicID: otherClinic})
	require.Equal(t, Decision{Allow: false, Reason: "denied: resource belongs to another clinic"}, d)
}

func TestDecide_DeniesMalformedInput(t *testing.T) {
	owner := principal(RoleOwner)
	res := ownResource(owner)

	cases := map[string]struct {
		mutate func(*Principal)
		action Action
		reason string
	}{
		"unknown action":        {func(*Principal) {}, Action("chart.delete"), "denied: unknown action"},
		"empty action":          {func(*Principal) {}, Action(""), "denied: unknown action"},
		"action in other case":  {func(*Principal) {}, Action("CHART.READ"), "denied: unknown action"},
		"unknown role":          {func(p *Principal) { p.Role = "superuser" }, ActionSettingsRead, "denied: unknown role"},
		"empty role":            {func(p *Principal) { p.Role = "" }, ActionSettingsRead, "denied: unknown role"},
		"no user":               {func(p *Principal) { p.UserID = "" }, ActionSettingsRead, "denied: principal has no user"},
		"unknown chart level":   {func(p *Principal) { p.Grants.Charts = "everything" }, ActionChartRead, "denied: invalid grants"},
		"zero grants":           {func(p *Principal) { p.Grants = Grants{} }, ActionPatientRead, "denied: invalid grants"},
		"bad named pract":       {func(p *Principal) { p.Grants.ChartPractitioners = []string{"u1"} }, ActionChartRead, "denied: invalid grants"},
		"patient invalid grant": {func(p *Principal) { *p = principal(RolePatient); p.Grants.Billing = "all" }, ActionAppointmentRead, "denied: invalid grants"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := owner
			tc.mutate(&p)
			r := res
			if p.Role == RolePatient {
				r = ownResource(p)
			}
			require.Equal(t, Decision{Allow: false, Reason: tc.reason}, Decide(p, tc.action, r))
		})
	}

	t.Run("invalid grants deny every action", func(t *testing.T) {
		p := owner
		p.Grants.Contacts = "admin"
		for _, a := range Actions() {
			require.False(t, Decide(p, a, res).Allow, string(a))
		}
	})
}

func TestDecide_EmptyIDsNeverMatch(t *testing.T) {
	// A resource with no owner, no practitioners and no patient belongs to
	// nobody: "own" rules must not match it.
	blank := Resource{ClinicID: clinic}
	for _, role := range []Role{RolePractitioner, RolePatient} {
		p := principal(role)
		for _, a := range []Action{ActionChartRead, ActionChartWrite, ActionChartSign, ActionAppointmentRead, ActionAppointmentWrite, ActionScheduleRead} {
			require.False(t, Decide(p, a, blank).Allow, "%s %s on blank resource", role, a)
		}
	}

	unlinked := principal(RolePatient)
	unlinked.PatientID = ""
	for _, a := range []Action{ActionPatientRead, ActionPatientContactRead, ActionAppointmentRead, ActionAppointmentWrite} {
		d := Decide(unlinked, a, blank)
		require.Equal(t, Decision{Allow: false, Reason: "denied: patient user has no patient profile"}, d, string(a))
	}
}

func TestDecide_PractitionerReadsChartsOfTheirPatients(t *testing.T) {
	p := principal(RolePractitioner)
	// An entry another practitioner wrote, about a patient p also treats.
	r := Resource{ClinicID: clinic, OwnerUserID: otherUser, PractitionerIDs: []string{otherUser, p.UserID}, PatientID: "patient-shared"}

	for _, a := range []Action{ActionChartRead, ActionClinicalNoteRead, ActionChartExport} {
		require.Equal(t, Decision{Allow: true, Reason: "allowed: own patient"}, Decide(p, a, r), string(a))
	}
	for _, a := range []Action{ActionChartWrite, ActionChartSign} {
		require.Equal(t, Decision{Allow: false, Reason: "denied: not own chart entry"}, Decide(p, a, r), string(a))
	}
	// Treating the patient does not open the other practitioner's calendar.
	require.False(t, Decide(p, ActionAppointmentRead, r).Allow)
}

func TestDecide_ChartPractitionersGrant(t *testing.T) {
	p := principal(RolePractitioner)
	p.Grants.ChartPractitioners = []string{"user-named"}

	named := Resource{ClinicID: clinic, OwnerUserID: "user-named", PractitionerIDs: []string{"user-named"}, PatientID: "patient-9"}
	for _, a := range []Action{ActionChartRead, ActionClinicalNoteRead, ActionChartExport} {
		require.Equal(t, Decision{Allow: true, Reason: "allowed: named practitioner"}, Decide(p, a, named), string(a))
	}
	for _, a := range []Action{ActionChartWrite, ActionChartSign} {
		require.False(t, Decide(p, a, named).Allow, "named practitioners are read-only: %s", a)
	}
	// The grant covers charts only, not the named practitioner's calendar.
	require.False(t, Decide(p, ActionAppointmentRead, named).Allow)

	// A practitioner who is not named stays closed.
	require.Equal(t, Decision{Allow: false, Reason: "denied: not own patient or chart entry"}, Decide(p, ActionChartRead, otherResource()))

	// Without the grant the same entry is closed.
	require.False(t, Decide(principal(RolePractitioner), ActionChartRead, named).Allow)
}

func TestDecide_PatientSelfAccess(t *testing.T) {
	p := principal(RolePatient)
	self := Resource{ClinicID: clinic, OwnerUserID: "user-practitioner", PatientID: selfPatient}
	other := Resource{ClinicID: clinic, OwnerUserID: "user-practitioner", PatientID: "patient-other"}

	for _, a := range []Action{ActionPatientRead, ActionPatientContactRead, ActionAppointmentRead, ActionAppointmentWrite} {
		require.Equal(t, Decision{Allow: true, Reason: "allowed: patient's own record"}, Decide(p, a, self), string(a))
		require.Equal(t, Decision{Allow: false, Reason: "denied: not the patient's own record"}, Decide(p, a, other), string(a))
	}
	// Nothing clinical, not even about themselves.
	for _, a := range []Action{ActionChartRead, ActionClinicalNoteRead, ActionChartExport, ActionPatientWrite, ActionPatientContactWrite} {
		require.Equal(t, Decision{Allow: false, Reason: "denied: patient role has no access"}, Decide(p, a, self), string(a))
	}

	// Staff-level grants on a patient account are never consulted.
	p.Grants = RoleGrants(RoleOwner)
	for _, a := range []Action{ActionChartRead, ActionBillingRead, ActionUserManage, ActionSettingsRead} {
		require.False(t, Decide(p, a, self).Allow, string(a))
	}
	require.False(t, Decide(p, ActionAppointmentRead, other).Allow)
}

func TestDecide_BillingRoleCeilingIgnoresGrants(t *testing.T) {
	// Even if the clinic raises a billing user's grants, the role never
	// reaches clinical data, contact details or appointment changes.
	p := principal(RoleBilling)
	p.Grants = RoleGrants(RoleOwner)
	r := ownResource(p)

	require.Equal(t, Decision{Allow: false, Reason: "denied: billing role has no chart access"}, Decide(p, ActionChartRead, r))
	for _, a := range []Action{ActionChartRead, ActionChartWrite, ActionChartSign, ActionChartExport, ActionClinicalNoteRead,
		ActionPatientWrite, ActionPatientContactRead, ActionPatientContactWrite, ActionAppointmentWrite} {
		require.False(t, Decide(p, a, r).Allow, string(a))
		require.False(t, Decide(p, a, otherResource()).Allow, string(a))
	}
	// Raised grants outside the ceiling do apply.
	require.True(t, Decide(p, ActionBillingWrite, r).Allow)
}

func TestDecide_ScheduleOwnVersusAll(t *testing.T) {
	p := principal(RoleFrontDesk)
	p.Grants.Schedule = ScheduleOwn
	require.Equal(t, Decision{Allow: false, Reason: "denied: not own schedule"}, Decide(p, ActionAppointmentWrite, otherResource()))
	require.Equal(t, Decision{Allow: true, Reason: "allowed: own schedule"}, Decide(p, ActionAppointmentWrite, ownResource(p)))

	p.Grants.Schedule = ScheduleNone
	require.Equal(t, Decision{Allow: false, Reason: "denied: no schedule access"}, Decide(p, ActionScheduleRead, ownResource(p)))
	// Staff with any other area can still identify the patient.
	require.True(t, Decide(p, ActionPatientRead, otherResource()).Allow)

	p.Grants = RoleGrants(RolePatient) // a staff member with every area none
	require.Equal(t, Decision{Allow: false, Reason: "denied: no patient access"}, Decide(p, ActionPatientRead, otherResource()))
	require.True(t, Decide(p, ActionSettingsRead, otherResource()).Allow)
}

func TestDecide_AdjustedGrantsApply(t *testing.T) {
	// A practitioner the owner opened to every chart, keeping read-only
	// contacts: all charts become readable and the profile editable, but
	// contact details stay read-only and other entries stay unsigned.
	p := principal(RolePractitioner)
	p.Grants.Charts = ChartsAll
	other := otherResource()

	require.Equal(t, Decision{Allow: true, Reason: "allowed: all charts"}, Decide(p, ActionChartRead, other))
	require.Equal(t, Decision{Allow: true, Reason: "allowed: patient write access"}, Decide(p, ActionPatientWrite, other))
	require.Equal(t, Decision{Allow: false, Reason: "denied: no contact write access"}, Decide(p, ActionPatientContactWrite, other))
	require.Equal(t, Decision{Allow: false, Reason: "denied: not own chart entry"}, Decide(p, ActionChartSign, other))
	require.Equal(t, Decision{Allow: true, Reason: "allowed: own chart entry"}, Decide(p, ActionChartSign, ownResource(p)))

	// Made an admin, the same practitioner manages users.
	require.False(t, Decide(p, ActionUserManage, other).Allow)
	p.Grants.Admin = true
	require.Equal(t, Decision{Allow: true, Reason: "allowed: admin"}, Decide(p, ActionUserManage, other))
}

func TestRoleGrants_Templates(t *testing.T) {
	want := map[Role]Grants{
		RoleOwner:        {Charts: "all", Billing: "write", Schedule: "all", Contacts: "write", Admin: true},
		RoleAdmin:        {Charts: "all", Billing: "write", Schedule: "all", Contacts: "write", Admin: true},
		RolePractitioner: {Charts: "own", Billing: "read", Schedule: "own", Contacts: "read", Admin: false},
		RoleFrontDesk:    {Charts: "none", Billing: "write", Schedule: "all", Contacts: "write", Admin: false},
		RoleBilling:      {Charts: "none", Billing: "read", Schedule: "all", Contacts: "none", Admin: false},
		RolePatient:      {Charts: "none", Billing: "none", Schedule: "none", Contacts: "none", Admin: false},
	}
	require.Len(t, want, len(Roles()))
	for _, r := range Roles() {
		g := RoleGrants(r)
		require.Equal(t, want[r], g, string(r))
		require.NoError(t, g.Validate(), string(r))
	}
	require.Equal(t, want[RolePatient], RoleGrants("superuser"), "unknown role gets nothing")
}

func TestGrants_Validate(t *testing.T) {
	valid := RoleGrants(RolePractitioner)
	cases := map[string]struct {
		mutate func(*Grants)
		fields []string // empty: valid
	}{
		"template":                   {func(*Grants) {}, nil},
		"named practitioners":        {func(g *Grants) { g.ChartPractitioners = []string{"u1", "u2"} }, nil},
		"unknown charts":             {func(g *Grants) { g.Charts = "some" }, []string{"charts"}},
		"unknown billing":            {func(g *Grants) { g.Billing = "all" }, []string{"billing"}},
		"unknown schedule":           {func(g *Grants) { g.Schedule = "write" }, []string{"schedule"}},
		"unknown contacts":           {func(g *Grants) { g.Contacts = "own" }, []string{"contacts"}},
		"upper case level":           {func(g *Grants) { g.Charts = "ALL" }, []string{"charts"}},
		"empty level":                {func(g *Grants) { g.Billing = "" }, []string{"billing"}},
		"empty practitioner id":      {func(g *Grants) { g.ChartPractitioners = []string{"u1", ""} }, []string{"chart_practitioners"}},
		"named with all charts":      {func(g *Grants) { g.Charts = ChartsAll; g.ChartPractitioners = []string{"u1"} }, []string{"chart_practitioners"}},
		"named with no charts":       {func(g *Grants) { g.Charts = ChartsNone; g.ChartPractitioners = []string{"u1"} }, []string{"chart_practitioners"}},
		"several fields wrong":       {func(g *Grants) { g.Charts = "x"; g.Contacts = "y" }, []string{"charts", "contacts"}},
		"zero value is not all none": {func(g *Grants) { *g = Grants{} }, []string{"charts", "billing", "schedule", "contacts"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := valid
			g.ChartPractitioners = slices.Clone(valid.ChartPractitioners)
			tc.mutate(&g)
			err := g.Validate()
			if len(tc.fields) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalidGrants)
			for _, f := range tc.fields {
				require.Contains(t, err.Error(), f+":")
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		got, err := ParseRole(string(r))
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	for _, s := range []string{"", "Owner", "frontdesk", "front-desk", " admin", "root"} {
		_, err := ParseRole(s)
		require.ErrorIs(t, err, ErrUnknownRole, "%q", s)
	}
}

func TestRoles_FixedOrder(t *testing.T) {
	require.Equal(t, []Role{"owner", "admin", "practitioner", "front_desk", "billing", "patient"}, Roles())
	rs := Roles()
	rs[0] = "changed"
	require.Equal(t, RoleOwner, Roles()[0], "callers get their own copy")
}

func TestRole_Staff(t *testing.T) {
	want := map[Role]bool{
		RoleOwner: true, RoleAdmin: true, RolePractitioner: true, RoleFrontDesk: true, RoleBilling: true,
		RolePatient: false, "": false, "superuser": false,
	}
	for r, staff := range want {
		require.Equal(t, staff, r.Staff(), "%q", r)
	}
}

func TestActions_ClosedSet(t *testing.T) {
	require.Equal(t, []Action{
		"chart.read", "chart.write", "chart.sign", "chart.export", "clinical_note.read",
		"patient.read", "patient.write", "patient.contact.read", "patient.contact.write",
		"appointment.read", "appointment.write", "schedule.read",
		"billing.read", "billing.write",
		"user.read", "user.manage", "settings.read", "settings.manage", "activity.read",
	}, Actions())
	as := Actions()
	as[0] = "changed"
	require.Equal(t, ActionChartRead, Actions()[0], "callers get their own copy")
}

func TestGrants_JSONRoundTrip(t *testing.T) {
	g := Grants{Charts: ChartsOwn, Billing: BillingRead, Schedule: ScheduleAll, Contacts: ContactsRead, ChartPractitioners: []string{"u1"}}
	b, err := json.Marshal(g)
	require.NoError(t, err)
	require.JSONEq(t, `{"charts":"own","billing":"read","schedule":"all","contacts":"read","admin":false,"chart_practitioners":["u1"]}`, string(b))

	var back Grants
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, g, back)

	b, err = json.Marshal(RoleGrants(RoleOwner))
	require.NoError(t, err)
	require.JSONEq(t, `{"charts":"all","billing":"write","schedule":"all","contacts":"write","admin":true}`, string(b), "empty chart_practitioners is omitted")

	var fromDoc Grants
	require.NoError(t, json.Unmarshal([]byte(`{"charts":"all","billing":"none","schedule":"own","contacts":"write","admin":true}`), &fromDoc))
	require.Equal(t, Grants{Charts: ChartsAll, Billing: BillingNone, Schedule: ScheduleOwn, Contacts: ContactsWrite, Admin: true}, fromDoc)

	// Unknown values decode but are caught by Validate.
	var bad Grants
	require.NoError(t, json.Unmarshal([]byte(`{"charts":"everything","billing":"none","schedule":"none","contacts":"none"}`), &bad))
	require.ErrorIs(t, bad.Validate(), ErrInvalidGrants)
}

func TestDecide_ReasonsAreFixedPhrases(t *testing.T) {
	// Reasons must not echo caller-supplied values into logs.
	p := principal(RoleOwner)
	p.UserID = "user-with-secret-marker"
	r := Resource{ClinicID: clinic, OwnerUserID: "secret-owner", PractitionerIDs: []string{"secret-pract"}, PatientID: "secret-patient"}
	for _, a := range append(Actions(), "secret-action") {
		d := Decide(p, a, r)
		require.NotContains(t, d.Reason, "secret", string(a))
		requireReason(t, d)
	}
}

func BenchmarkDecide(b *testing.B) {
	p := principal(RolePractitioner)
	p.Grants.ChartPractitioners = []string{"user-a", "user-b", "user-named"}
	r := Resource{ClinicID: clinic, OwnerUserID: "user-named", PractitionerIDs: []string{"user-x", "user-y"}, PatientID: "patient-1"}
	var d Decision
	for b.Loop() {
		d = Decide(p, ActionChartRead, r)
	}
	if !d.Allow {
		b.Fatal(d.Reason)
	}
}

// requireReason checks that d's reason starts with the word matching its
// outcome.
func requireReason(t *testing.T, d Decision) {
	t.Helper()
	prefix := "denied: "
	if d.Allow {
		prefix = "allowed: "
	}
	require.Truef(t, strings.HasPrefix(d.Reason, prefix) && len(d.Reason) > len(prefix), "reason %q for allow=%v", d.Reason, d.Allow)
}
