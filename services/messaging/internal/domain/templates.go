package domain

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Template names the built-in defaults cover.
const (
	TemplateAppointmentReminder = "appointment_reminder"
	TemplateSignInCode          = "sign_in_code"
	TemplatePasswordReset       = "password_reset"
	TemplateFormRequest         = "form_request"
	TemplateInvitation          = "invitation"
)

// Limits on templates and their data.
const (
	MaxSubject    = 200
	MaxBody       = 10_000
	MaxSMSBody    = 1600 // the provider's limit, in characters, after rendering
	MaxDataKeys   = 32
	MaxDataValue  = 8192
	maxNameLength = 64
)

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidName reports whether s can name a template or a data key: lower
// snake case, at most 64 characters.
func ValidName(s string) bool { return len(s) <= maxNameLength && namePattern.MatchString(s) }

// Template is a clinic's message for one channel and name; text/template
// over the request's data plus first_name and unsubscribe_url.
type Template struct {
	ID        string
	ClinicID  string
	Channel   Channel
	Name      string
	Subject   string // e-mail only
	Body      string
	UpdatedBy string
	UpdatedAt time.Time
	// Default marks a built-in template the clinic has not replaced.
	Default bool
}

// Keys messaging sets in every template's data.
const (
	KeyFirstName      = "first_name"      // the patient's preferred or first name
	KeyUnsubscribeURL = "unsubscribe_url" // the signed opt-out link (messages to patients)
	KeyClinicSlug     = "clinic_slug"     // the clinic's slug, given by the caller
)

const reminderFooter = "{{if .unsubscribe_url}}\n\nTo stop these messages: {{.unsubscribe_url}}{{end}}"

// orText renders the caller's own text in data[key] when given (identity
// writes its codes' and links' messages itself), else fallback.
func orText(key, fallback string) string {
	return "{{if ." + key + "}}{{." + key + "}}{{else}}" + fallback + "{{end}}"
}

// Defaults are the built-in templates used when a clinic has none of its
// own. Reminders read scheduling's data (start_local, an RFC 3339 time in
// the clinic's zone); identity's templates render the subject and body
// identity wrote, or a text of their own around code, reset_url or
// invitation_url.
var Defaults = []Template{
	{Channel: Email, Name: TemplateAppointmentReminder, Subject: "Appointment reminder",
		Body: "Hello{{if .first_name}} {{.first_name}}{{end}},\n\nThis is a reminder of your appointment" +
			"{{with .start_local}} on {{datetime .}}{{end}}.\nIf you cannot come, please let the clinic know." + reminderFooter + "\n"},
	{Channel: SMS, Name: TemplateAppointmentReminder,
		Body: "Reminder: you have an appointment{{with .start_local}} on {{datetime .}}{{end}}." + reminderFooter},
	{Channel: SMS, Name: TemplateSignInCode, Body: orText("body", "Your sign-in code is {{.code}}. It expires soon; do not share it.")},
	{Channel: Email, Name: TemplateSignInCode, Subject: orText("subject", "Your sign-in code"),
		Body: orText("body", "Your sign-in code is {{.code}}.\n\nIt expires soon. If you did not try to sign in, you can ignore this message.\n")},
	{Channel: Email, Name: TemplatePasswordReset, Subject: orText("subject", "Reset your password"),
		Body: orText("body", "To choose a new password, open this link:\n\n{{.reset_url}}\n\nIf you did not ask for this, you can ignore this message.\n")},
	{Channel: Email, Name: TemplateInvitation, Subject: orText("subject", "You are invited to your clinic's Haven"),
		Body: orText("body", "To accept the invitation and choose your password, open this link:\n\n{{.invitation_url}}\n")},
	{Channel: Email, Name: TemplateFormRequest, Subject: "A form to fill in before your visit",
		Body: "Hello{{if .first_name}} {{.first_name}}{{end}},\n\nThe clinic asks you to fill in a form:\n\n{{.form_url}}" + reminderFooter + "\n"},
}

// funcs are the functions templates may call besides text/template's own.
var funcs = template.FuncMap{
	// datetime writes an RFC 3339 time as "Thursday 5 March 2026 at 22:00",
	// in the time's own offset (scheduling gives the clinic's local time);
	// anything else is written as it is.
	"datetime": func(s string) string {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return s
		}
		return t.Format("Monday 2 January 2006 at 15:04")
	},
}

// DefaultTemplate returns the built-in template for channel and name.
func DefaultTemplate(c Channel, name string) (Template, bool) {
	for _, t := range Defaults {
		if t.Channel == c && t.Name == name {
			t.Default = true
			return t, true
		}
	}
	return Template{}, false
}

// ErrTemplate is a template that does not parse or render.
var ErrTemplate = errors.New("template does not render")

func parse(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=zero").Funcs(funcs).Parse(text)
}

// sampleData fills every key a template may use, for checking it.
func sampleData(fields []string) map[string]string {
	d := map[string]string{KeyFirstName: "Sam", KeyUnsubscribeURL: "https://example.org/unsubscribe", KeyClinicSlug: "clinic"}
	for _, f := range fields {
		d[f] = "x"
	}
	return d
}

// Check reports which parts of t are invalid (by field name): the
// subject (one line, e-mail only) and the body must parse and render.
func (t Template) Check() map[string]string {
	bad := map[string]string{}
	if len(t.Body) == 0 || len(t.Body) > MaxBody {
		bad["body"] = fmt.Sprintf("must be 1 to %d characters", MaxBody)
	} else if err := checkText("body", t.Body); err != nil {
		bad["body"] = err.Error()
	}
	switch {
	case t.Channel == SMS && t.Subject != "":
		bad["subject"] = "an SMS has no subject"
	case t.Channel == Email && (strings.TrimSpace(t.Subject) == "" || len(t.Subject) > MaxSubject):
		bad["subject"] = fmt.Sprintf("must be 1 to %d characters", MaxSubject)
	case strings.ContainsAny(t.Subject, "\r\n"):
		bad["subject"] = "must be one line"
	case t.Subject != "":
		if err := checkText("subject", t.Subject); err != nil {
			bad["subject"] = err.Error()
		}
	}
	return bad
}

// checkText parses text and renders it with sample data. The error names
// no value: a template's text is the clinic's, not personal data, but the
// parser's message can quote it.
func checkText(name, text string) error {
	tp, err := parse(name, text)
	if err != nil {
		return errors.New("is not a valid template (Go text/template syntax)")
	}
	if err := tp.Execute(io.Discard, sampleData(nil)); err != nil {
		return errors.New("does not render: use {{.key}} with keys of the message's data")
	}
	return nil
}

// Render fills t with data. The unsubscribe link, when data has one, is
// added at the end of the body if the template did not place it.
func (t Template) Render(data map[string]string) (Content, error) {
	var out Content
	var err error
	if out.Body, err = execute("body", t.Body, data); err != nil {
		return Content{}, err
	}
	if t.Subject != "" {
		if out.Subject, err = execute("subject", t.Subject, data); err != nil {
			return Content{}, err
		}
		out.Subject = strings.Join(strings.Fields(out.Subject), " ")
	}
	if u := data[KeyUnsubscribeURL]; u != "" {
		out.Unsubscribe = u
		if !strings.Contains(out.Body, u) {
			out.Body = strings.TrimRight(out.Body, "\n") + "\n\nTo stop these messages: " + u + "\n"
		}
	}
	if t.Channel == SMS && len([]rune(out.Body)) > MaxSMSBody {
		return Content{}, fmt.Errorf("%w: body longer than %d characters", ErrTemplate, MaxSMSBody)
	}
	return out, nil
}

func execute(name, text string, data map[string]string) (string, error) {
	tp, err := parse(name, text)
	if err != nil {
		return "", fmt.Errorf("%w: %s does not parse", ErrTemplate, name)
	}
	var b strings.Builder
	if err := tp.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%w: %s", ErrTemplate, name)
	}
	return b.String(), nil
}
