package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrLinkInvalid is a form link that is unknown, already used or expired.
var ErrLinkInvalid = errors.New("form link is no longer valid")

// QuestionType is the kind of answer a question takes.
type QuestionType string

// The question types.
const (
	QuestionText     QuestionType = "text"      // one line
	QuestionLongText QuestionType = "long_text" // paragraphs
	QuestionYesNo    QuestionType = "yes_no"    // "yes" or "no"
	QuestionChoice   QuestionType = "choice"    // one of Choices
	QuestionDate     QuestionType = "date"      // YYYY-MM-DD
	QuestionConsent  QuestionType = "consent"   // the patient agrees to Statement: "agreed"
)

var questionTypes = []QuestionType{QuestionText, QuestionLongText, QuestionYesNo, QuestionChoice, QuestionDate, QuestionConsent}

// Question is one question of a form.
type Question struct {
	ID        string       `json:"id"`
	Type      QuestionType `json:"type"`
	Label     string       `json:"label"`
	Required  bool         `json:"required"`
	Choices   []string     `json:"choices,omitempty"`
	Statement string       `json:"statement,omitempty"` // the consent wording
}

// FormTemplate is one version of a clinic's form.
type FormTemplate struct {
	ID        string
	ClinicID  string
	Name      string
	Version   int
	Questions []Question
	CreatedBy string
	CreatedAt time.Time
}

// Limits of a template.
const (
	MaxQuestions  = 100
	maxLabel      = 500
	maxStatement  = 5000
	maxChoices    = 50
	maxAnswerText = 10000
)

// CheckQuestions returns a reason per invalid question, keyed
// "questions[i].field", or nil.
func CheckQuestions(qs []Question) map[string]string {
	bad := map[string]string{}
	if len(qs) == 0 || len(qs) > MaxQuestions {
		bad["questions"] = fmt.Sprintf("must hold 1 to %d questions", MaxQuestions)
		return bad
	}
	seen := map[string]bool{}
	for i, q := range qs {
		at := func(f string) string { return fmt.Sprintf("questions[%d].%s", i, f) }
		switch {
		case q.ID == "" || len(q.ID) > 64 || strings.Trim(q.ID, "abcdefghijklmnopqrstuvwxyz0123456789_") != "":
			bad[at("id")] = "must be 1 to 64 lower-case letters, digits or _"
		case seen[q.ID]:
			bad[at("id")] = "is used by another question"
		}
		seen[q.ID] = true
		if !slices.Contains(questionTypes, q.Type) {
			bad[at("type")] = "must be text, long_text, yes_no, choice, date or consent"
		}
		if strings.TrimSpace(q.Label) == "" || len(q.Label) > maxLabel {
			bad[at("label")] = fmt.Sprintf("must be 1 to %d characters", maxLabel)
		}
		if q.Type == QuestionChoice && (len(q.Choices) < 2 || len(q.Choices) > maxChoices || slices.Contains(q.Choices, "")) {
			bad[at("choices")] = fmt.Sprintf("a choice question needs 2 to %d non-empty choices", maxChoices)
		}
		if q.Type != QuestionChoice && len(q.Choices) > 0 {
			bad[at("choices")] = "only choice questions have choices"
		}
		if q.Type == QuestionConsent && (strings.TrimSpace(q.Statement) == "" || len(q.Statement) > maxStatement) {
			bad[at("statement")] = fmt.Sprintf("a consent question needs its statement (1 to %d characters)", maxStatement)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return bad
}

// Answers checks raw answers (question id → JSON value) against the
// template and returns them normalised (every value a string), or a reason
// per invalid answer keyed "answers.<question id>".
func (t FormTemplate) Answers(raw map[string]json.RawMessage) (map[string]string, map[string]string) {
	out, bad := map[string]string{}, map[string]string{}
	for id := range raw {
		if !slices.ContainsFunc(t.Questions, func(q Question) bool { return q.ID == id }) {
			bad["answers."+id] = "is not a question of this form"
		}
	}
	for _, q := range t.Questions {
		key := "answers." + q.ID
		v, given := raw[q.ID]
		if !given || string(v) == "null" {
			if q.Required {
				bad[key] = "is required"
			}
			continue
		}
		var s string
		var b bool
		switch q.Type {
		case QuestionYesNo:
			if json.Unmarshal(v, &b) == nil {
				s = map[bool]string{true: "yes", false: "no"}[b]
			} else if json.Unmarshal(v, &s) != nil || (s != "yes" && s != "no") {
				bad[key] = `must be "yes" or "no"`
				continue
			}
		case QuestionConsent:
			if json.Unmarshal(v, &b) != nil || !b {
				if q.Required {
					bad[key] = "must be true: the patient agrees to the statement"
				} else if json.Unmarshal(v, &b) != nil {
					bad[key] = "must be true or false"
				}
				continue
			}
			s = "agreed"
		default:
			if json.Unmarshal(v, &s) != nil {
				bad[key] = "must be a string"
				continue
			}
			s = strings.TrimSpace(s)
			switch {
			case len(s) > maxAnswerText:
				bad[key] = fmt.Sprintf("must be at most %d characters", maxAnswerText)
			case q.Type == QuestionText && strings.ContainsAny(s, "\r\n"):
				bad[key] = "must be one line"
			case q.Type == QuestionChoice && !slices.Contains(q.Choices, s):
				bad[key] = "must be one of the question's choices"
			case q.Type == QuestionDate:
				if _, err := time.Parse(time.DateOnly, s); err != nil {
					bad[key] = "must be a date YYYY-MM-DD"
				}
			case q.Required && s == "":
				bad[key] = "is required"
			}
			if bad[key] != "" {
				continue
			}
		}
		out[q.ID] = s
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return out, nil
}

// FormRequest is a form sent to a patient, and, once completed, the
// patient's answers and typed signature. A completed form never changes.
type FormRequest struct {
	ID              string
	ClinicID        string
	PatientID       string
	TemplateID      string
	TemplateVersion int
	TokenHash       string
	SentBy          string
	CreatedAt       time.Time
	ExpiresAt       time.Time

	CompletedAt   *time.Time
	Answers       map[string]string
	SignedName    string
	SignedIP      string
	ContentSHA256 string
}

// Status is "completed", "expired" or "sent".
func (f FormRequest) Status(now time.Time) string {
	switch {
	case f.CompletedAt != nil:
		return "completed"
	case !now.Before(f.ExpiresAt):
		return "expired"
	default:
		return "sent"
	}
}

// TokenHash is the stored form of a link token.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CompletionHash is the SHA-256 over the canonical completion: the form,
// its template version, the answers (keys sorted by encoding/json), the
// typed name and the time.
func CompletionHash(f FormRequest) string {
	b, _ := json.Marshal(struct {
		ID              string            `json:"id"`
		PatientID       string            `json:"patient_id"`
		TemplateID      string            `json:"template_id"`
		TemplateVersion int               `json:"template_version"`
		Answers         map[string]string `json:"answers"`
		SignedName      string            `json:"signed_name"`
		CompletedAt     string            `json:"completed_at"`
	}{f.ID, f.PatientID, f.TemplateID, f.TemplateVersion, f.Answers, f.SignedName, f.CompletedAt.UTC().Format(time.RFC3339Nano)})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
