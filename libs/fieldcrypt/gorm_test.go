package fieldcrypt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/store"
)

// serviceMigrations stand for a service's own migrations (goose_db_version),
// applied beside fieldcrypt's.
var serviceMigrations = os.DirFS("testdata/migrations")

// patient is a service model with encrypted fields.
type patient struct {
	ID          string
	ClinicID    string
	Email       fieldcrypt.String  `gorm:"serializer:fieldcrypt"`
	EmailLookup string             // blind index of the normalized e-mail
	Phone       *fieldcrypt.String `gorm:"serializer:fieldcrypt"` // nil is NULL
	Notes       fieldcrypt.String  `gorm:"serializer:fieldcrypt"` // empty stays empty
	Photo       fieldcrypt.Bytes   `gorm:"serializer:fieldcrypt"`
}

// patientNoClinic breaks the convention: no ClinicID field.
type patientNoClinic struct {
	ID    string
	Email fieldcrypt.String `gorm:"serializer:fieldcrypt"`
}

func (patientNoClinic) TableName() string { return "patients" }

const (
	testEmail = "maria.gonzalez@example.com"
	testPhone = "+34600111222"
)

var testPhoto = []byte("\xff\xd8\xff\xe0 fake portrait of the patient \x00\x01")

// newGormEnv is newEnv with the serializer registered and the clinic's keys
// created up front, as a service does when a clinic is provisioned (on
// SQLite, gorm's implicit transaction cannot create them).
func newGormEnv(t *testing.T) *env {
	t.Helper()
	fieldcrypt.RegisterSerializer()
	e := newEnv(t)
	require.NoError(t, e.c.EnsureClinic(e.ctx, e.clinic))
	return e
}

// gdb returns the env's gorm handle with the Crypter in its context.
func (e *env) gdb() *gorm.DB {
	return e.db.WithContext(fieldcrypt.WithCrypter(e.ctx, e.c))
}

func (e *env) newPatient(t *testing.T, id string) patient {
	t.Helper()
	phone := fieldcrypt.String(testPhone)
	lookup, err := e.c.Lookup(e.ctx, e.clinic, "email", testEmail)
	require.NoError(t, err)
	return patient{
		ID: id, ClinicID: e.clinic,
		Email: testEmail, EmailLookup: lookup, Phone: &phone, Photo: fieldcrypt.Bytes(testPhoto),
	}
}

// rawRow reads a patients row with plain SQL, bypassing the serializer.
func (e *env) rawRow(t *testing.T, id string) map[string][]byte {
	t.Helper()
	cols := []string{"id", "clinic_id", "email", "email_lookup", "phone", "notes", "photo"}
	rows, err := e.db.Raw("SELECT id, clinic_id, email, email_lookup, phone, notes, photo FROM patients WHERE id = ?", id).Rows()
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	require.True(t, rows.Next(), "row %s not found", id)
	vals := make([][]byte, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	require.NoError(t, rows.Scan(ptrs...))
	out := make(map[string][]byte, len(cols))
	for i, c := range cols {
		out[c] = vals[i]
	}
	return out
}

func TestSerializer_StoresNoPlaintextAndReadsItBack(t *testing.T) {
	e := newGormEnv(t)
	p := e.newPatient(t, "0d9e2c5a-6f0b-4b8e-9c3d-2a1b0c9d8e7f")
	require.NoError(t, e.gdb().Create(&p).Error)

	raw := e.rawRow(t, p.ID)
	secrets := [][]byte{[]byte(testEmail), []byte("maria"), []byte(testPhone), []byte("600111222"), testPhoto[4:20]}
	for col, v := range raw {
		for _, s := range secrets {
			require.False(t, bytes.Contains(v, s), "column %s holds plaintext", col)
			if dec, err := base64.StdEncoding.DecodeString(string(v)); err == nil {
				require.False(t, bytes.Contains(dec, s), "column %s holds base64 plaintext", col)
			}
		}
	}
	require.NotEmpty(t, raw["email"])
	require.NotEmpty(t, raw["phone"])
	require.NotEmpty(t, raw["photo"])
	require.Empty(t, raw["notes"], "an empty value stays empty")

	var got patient
	require.NoError(t, e.gdb().First(&got, "id = ?", p.ID).Error)
	require.Equal(t, testEmail, string(got.Email))
	require.NotNil(t, got.Phone)
	require.Equal(t, testPhone, string(*got.Phone))
	require.True(t, bytes.Equal(testPhoto, got.Photo))
	require.Empty(t, got.Notes)

	// Search by the blind index, then update through the model.
	lookup, err := e.c.Lookup(e.ctx, e.clinic, "email", testEmail)
	require.NoError(t, err)
	var found []patient
	require.NoError(t, e.gdb().Where("clinic_id = ? AND email_lookup = ?", e.clinic, lookup).Find(&found).Error)
	require.Len(t, found, 1)
	require.Equal(t, p.ID, found[0].ID)

	found[0].Email = "maria@example.org"
	found[0].Phone = nil
	found[0].Notes = "allergic to penicillin"
	require.NoError(t, e.gdb().Save(&found[0]).Error)
	raw = e.rawRow(t, p.ID)
	require.Nil(t, raw["phone"], "nil *String is NULL")
	require.False(t, bytes.Contains(raw["notes"], []byte("penicillin")))

	var again patient
	require.NoError(t, e.gdb().First(&again, "id = ?", p.ID).Error)
	require.Equal(t, "maria@example.org", string(again.Email))
	require.Nil(t, again.Phone)
	require.Equal(t, "allergic to penicillin", string(again.Notes))
}

func TestSerializer_CopiedValueFailsIntegrity(t *testing.T) {
	e := newGormEnv(t)
	a := e.newPatient(t, "0d9e2c5a-6f0b-4b8e-9c3d-2a1b0c9d8e7f")
	b := e.newPatient(t, "1a2b3c4d-0000-4000-8000-000000000002")
	b.Email = "someone.else@example.com"
	require.NoError(t, e.gdb().Create(&a).Error)
	require.NoError(t, e.gdb().Create(&b).Error)

	// An attacker with database access moves A's e-mail into B's row.
	require.NoError(t, e.db.Exec("UPDATE patients SET email = (SELECT email FROM patients WHERE id = ?) WHERE id = ?", a.ID, b.ID).Error)
	var got patient
	err := e.gdb().First(&got, "id = ?", b.ID).Error
	require.ErrorIs(t, err, fieldcrypt.ErrIntegrity)
	require.NotContains(t, err.Error(), testEmail)

	// Or A's phone into A's email column.
	require.NoError(t, e.db.Exec("UPDATE patients SET email = phone WHERE id = ?", a.ID).Error)
	var gotA patient
	err = e.gdb().First(&gotA, "id = ?", a.ID).Error
	require.ErrorIs(t, err, fieldcrypt.ErrIntegrity)
}

func TestSerializer_RefusesToLeakOrGuess(t *testing.T) {
	e := newGormEnv(t)
	p := e.newPatient(t, "0d9e2c5a-6f0b-4b8e-9c3d-2a1b0c9d8e7f")

	err := e.db.WithContext(e.ctx).Create(&p).Error
	require.ErrorContains(t, err, "no Crypter in the statement context")

	require.NoError(t, e.gdb().Create(&p).Error)

	t.Run("column update bypassing the serializer", func(t *testing.T) {
		err := e.gdb().Model(&p).Update("email", fieldcrypt.String("new@example.com")).Error
		require.ErrorContains(t, err, "outside the fieldcrypt serializer")
		require.False(t, bytes.Contains(e.rawRow(t, p.ID)["email"], []byte("new@example.com")))
	})
	t.Run("partial struct update without ids", func(t *testing.T) {
		err := e.gdb().Model(&p).Updates(patient{Email: "new@example.com"}).Error
		require.ErrorContains(t, err, "ClinicID is not set")
	})
	t.Run("model without ClinicID", func(t *testing.T) {
		err := e.gdb().Create(&patientNoClinic{ID: "x1", Email: "a@example.com"}).Error
		require.ErrorContains(t, err, "has no ClinicID field")
	})
	t.Run("row id missing", func(t *testing.T) {
		q := e.newPatient(t, "")
		require.ErrorContains(t, e.gdb().Create(&q).Error, "ID is not set")
	})
	t.Run("read without the ids", func(t *testing.T) {
		var got patient
		err := e.gdb().Select("email").First(&got, "id = ?", p.ID).Error
		require.Error(t, err)
		require.Empty(t, got.Email)
	})
	t.Run("values are redacted when printed", func(t *testing.T) {
		for _, s := range []string{fmt.Sprint(p.Email), fmt.Sprintf("%v %s %#v", p.Email, p.Email, p), fmt.Sprint(p.Photo)} {
			require.NotContains(t, s, "maria")
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "email", p.Email, "photo", p.Photo)
		require.NotContains(t, buf.String(), "maria")
	})
}

func TestSerializer_FirstWriteOfClinicInTransaction(t *testing.T) {
	fieldcrypt.RegisterSerializer()
	e := newEnv(t)
	p := e.newPatient(t, "0d9e2c5a-6f0b-4b8e-9c3d-2a1b0c9d8e7f") // creates the lookup key only
	write := func() error {
		return e.gdb().Transaction(func(tx *gorm.DB) error { return tx.Create(&p).Error })
	}
	if e.db.Dialect() == store.SQLite {
		// Creating the data key needs SQLite's single write lock, held by
		// the transaction: fail at once and say what to do.
		require.ErrorContains(t, write(), "EnsureClinic")
		require.NoError(t, e.c.EnsureClinic(context.Background(), e.clinic))
	}
	require.NoError(t, write())
	var got patient
	require.NoError(t, e.gdb().First(&got, "id = ?", p.ID).Error)
	require.Equal(t, testEmail, string(got.Email))
}
