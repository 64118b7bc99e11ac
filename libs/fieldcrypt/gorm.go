package fieldcrypt

import (
	"context"
	"database/sql/driver"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"

	"gorm.io/gorm/schema"

	"github.com/havenhealth/haven/libs/store"
)

// SerializerName is the gorm serializer that encrypts String and Bytes
// fields: `gorm:"serializer:fieldcrypt"`.
const SerializerName = "fieldcrypt"

// String is a personal text field stored encrypted. Declare it with the
// fieldcrypt serializer in a model that has ClinicID and ID fields:
//
//	type Patient struct {
//		ID       string
//		ClinicID string
//		Email    fieldcrypt.String `gorm:"serializer:fieldcrypt"`
//		EmailIdx string            // Crypter.Lookup of the normalized address
//	}
//
// The column (TEXT) holds the base64 of the ciphertext. The empty string is
// stored as the empty string, unencrypted, and NULL reads as empty; use
// *String for a column where NULL and empty must differ (nil is NULL).
//
// Convert with string(v) for use. Printing or logging a String shows
// "[redacted]", and passing one to SQL outside the serializer (e.g.
// Update("email", v) or Where("email = ?", v)) fails rather than writing or
// sending plaintext.
type String string

// String hides the value from fmt and friends; use string(v) for the value.
func (String) String() string { return "[redacted]" }

// GoString hides the value from %#v.
func (String) GoString() string { return "fieldcrypt.String([redacted])" }

// LogValue hides the value from log/slog.
func (String) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Value refuses to hand plaintext to the database driver: a String reaches
// it only through the fieldcrypt serializer.
func (String) Value() (driver.Value, error) { return nil, errNoSerializer }

// Bytes is a personal binary field stored encrypted, like [String]; the
// column (BYTEA on PostgreSQL, BLOB on SQLite) holds the raw ciphertext.
// An empty value is stored as an empty byte string, unencrypted, and NULL
// reads as empty.
type Bytes []byte

// String hides the value from fmt and friends.
func (Bytes) String() string { return "[redacted]" }

// GoString hides the value from %#v.
func (Bytes) GoString() string { return "fieldcrypt.Bytes([redacted])" }

// LogValue hides the value from log/slog.
func (Bytes) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Value refuses to hand plaintext to the database driver.
func (Bytes) Value() (driver.Value, error) { return nil, errNoSerializer }

var errNoSerializer = errors.New("fieldcrypt: encrypted field used in SQL outside the fieldcrypt serializer " +
	"(update it through the model, and search by its Lookup column)")

type crypterKey struct{}

// WithCrypter returns a context carrying c, for the fieldcrypt serializer:
// run gorm statements that read or write encrypted fields with
// db.WithContext(fieldcrypt.WithCrypter(ctx, c)).
func WithCrypter(ctx context.Context, c *Crypter) context.Context {
	return context.WithValue(ctx, crypterKey{}, c)
}

// CrypterFrom returns the Crypter set by WithCrypter, or nil.
func CrypterFrom(ctx context.Context) *Crypter {
	c, _ := ctx.Value(crypterKey{}).(*Crypter)
	return c
}

var registerOnce sync.Once

// RegisterSerializer registers the "fieldcrypt" gorm serializer. gorm's
// registry is process-wide, so call it once from main before opening the
// database; it holds no state (the Crypter comes from the statement's
// context, see WithCrypter) and further calls do nothing.
//
// The serializer takes the Scope of a field from its model: the table is
// the model's table, the column the field's column, the clinic the model's
// ClinicID field and the row the model's ID field (a string, a fmt.Stringer
// such as uuid.UUID, or an integer). Both must be set before the row is
// written, so IDs are assigned by the application, not the database. When
// reading, id and clinic_id must be selected and come before the encrypted
// columns in the result (declare them first in the table, as Haven
// migrations do). A model or query that breaks these rules fails with an
// error; it never stores or returns plaintext by mistake.
//
// Limits that follow from gorm: updates with a map or Update(column, value)
// bypass serializers, so encrypted columns are written through the model
// (Save, Create, Updates with the full struct); Updates with a partial
// struct must still carry ID and ClinicID. Equality search on an encrypted
// column cannot work (each encryption differs); store a Lookup beside it.
// On PostgreSQL the serializer creates a clinic's data key on its first
// write. On SQLite it cannot (gorm writes inside a transaction holding
// SQLite's only write lock, which the key insert would wait for), so the
// write fails with an error naming Crypter.EnsureClinic until that has run
// for the clinic.
func RegisterSerializer() {
	registerOnce.Do(func() {
		schema.RegisterSerializer(SerializerName, serializer{})
	})
}

// serializer is the gorm side of String and Bytes.
type serializer struct{}

// Value encrypts a String or Bytes field for storage.
func (serializer) Value(ctx context.Context, field *schema.Field, dst reflect.Value, fieldValue any) (any, error) {
	var (
		pt     []byte
		isText bool
	)
	switch v := fieldValue.(type) {
	case String:
		if v == "" {
			return "", nil
		}
		pt, isText = []byte(v), true
	case *String:
		if v == nil {
			return nil, nil
		}
		if *v == "" {
			return "", nil
		}
		pt, isText = []byte(*v), true
	case Bytes:
		if len(v) == 0 {
			return []byte{}, nil
		}
		pt = v
	case *Bytes:
		if v == nil {
			return nil, nil
		}
		if len(*v) == 0 {
			return []byte{}, nil
		}
		pt = *v
	default:
		return nil, fmt.Errorf("fieldcrypt: %s.%s: serializer:fieldcrypt needs a fieldcrypt.String or fieldcrypt.Bytes field, not %T",
			fieldTable(field), field.DBName, fieldValue)
	}
	c, scope, err := serializerScope(ctx, field, dst)
	if err != nil {
		return nil, err
	}
	ct, err := c.encrypt(ctx, scope, pt, c.dialect != store.SQLite)
	if isText {
		clear(pt) // our copy of the string
	}
	if err != nil {
		return nil, err
	}
	if isText {
		return base64.StdEncoding.EncodeToString(ct), nil
	}
	return ct, nil
}

// Scan decrypts a stored value into a String or Bytes field.
func (serializer) Scan(ctx context.Context, field *schema.Field, dst reflect.Value, dbValue any) error {
	target := field.ReflectValueOf(ctx, dst)
	elem := field.FieldType
	isPtr := elem.Kind() == reflect.Pointer
	if isPtr {
		elem = elem.Elem()
	}
	var raw []byte
	switch v := dbValue.(type) {
	case nil:
		target.Set(reflect.Zero(field.FieldType))
		return nil
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		return fmt.Errorf("fieldcrypt: %s.%s: unexpected column type %T", fieldTable(field), field.DBName, dbValue)
	}

	var out reflect.Value
	switch elem {
	case reflect.TypeFor[String](), reflect.TypeFor[Bytes]():
	default:
		return fmt.Errorf("fieldcrypt: %s.%s: serializer:fieldcrypt needs a fieldcrypt.String or fieldcrypt.Bytes field, not %s",
			fieldTable(field), field.DBName, field.FieldType)
	}
	if len(raw) == 0 {
		out = reflect.Zero(elem)
		if elem == reflect.TypeFor[Bytes]() {
			out = reflect.ValueOf(Bytes{})
		}
	} else {
		c, scope, err := serializerScope(ctx, field, dst)
		if err != nil {
			return err
		}
		ct := raw
		if elem == reflect.TypeFor[String]() {
			ct = make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
			n, err := base64.StdEncoding.Decode(ct, raw)
			if err != nil {
				return fmt.Errorf("fieldcrypt: decrypt %s: %w: not base64", scope, ErrMalformed)
			}
			ct = ct[:n]
		}
		pt, err := c.Decrypt(ctx, scope, ct)
		if err != nil {
			return err
		}
		if elem == reflect.TypeFor[String]() {
			out = reflect.ValueOf(String(pt))
			clear(pt)
		} else {
			out = reflect.ValueOf(Bytes(pt))
		}
	}
	if isPtr {
		p := reflect.New(elem)
		p.Elem().Set(out)
		out = p
	}
	target.Set(out)
	return nil
}

// serializerScope finds the Crypter and the field's Scope.
func serializerScope(ctx context.Context, field *schema.Field, dst reflect.Value) (*Crypter, Scope, error) {
	table := fieldTable(field)
	c := CrypterFrom(ctx)
	if c == nil {
		return nil, Scope{}, fmt.Errorf("fieldcrypt: %s.%s: no Crypter in the statement context (use db.WithContext(fieldcrypt.WithCrypter(ctx, c)))",
			table, field.DBName)
	}
	clinicID, err := modelID(ctx, field, dst, "ClinicID")
	if err != nil {
		return nil, Scope{}, err
	}
	rowID, err := modelID(ctx, field, dst, "ID")
	if err != nil {
		return nil, Scope{}, err
	}
	return c, Scope{ClinicID: clinicID, Table: table, Column: field.DBName, RowID: rowID}, nil
}

// modelID reads the model's ClinicID or ID field as a string.
func modelID(ctx context.Context, field *schema.Field, dst reflect.Value, name string) (string, error) {
	table := fieldTable(field)
	if field.Schema == nil {
		return "", fmt.Errorf("fieldcrypt: %s: field has no model", field.DBName)
	}
	f := field.Schema.LookUpField(name)
	if f == nil || f.Name != name {
		return "", fmt.Errorf("fieldcrypt: %s.%s: model %s has no %s field", table, field.DBName, field.Schema.Name, name)
	}
	v, zero := f.ValueOf(ctx, dst)
	if zero {
		return "", fmt.Errorf("fieldcrypt: %s.%s: %s is not set (set it before writing; select %s before %s when reading)",
			table, field.DBName, name, f.DBName, field.DBName)
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case fmt.Stringer:
		return x.String(), nil
	case int, int8, int16, int32, int64:
		return strconv.FormatInt(reflect.ValueOf(x).Int(), 10), nil
	case uint, uint8, uint16, uint32, uint64:
		return strconv.FormatUint(reflect.ValueOf(x).Uint(), 10), nil
	default:
		return "", fmt.Errorf("fieldcrypt: %s.%s: %s has unsupported type %T", table, field.DBName, name, v)
	}
}

func fieldTable(field *schema.Field) string {
	if field.Schema == nil {
		return "?"
	}
	return field.Schema.Table
}
