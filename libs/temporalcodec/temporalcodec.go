// Package temporalcodec encrypts Temporal payloads — workflow and activity
// inputs and results, signals, queries and, through [Codec.FailureConverter],
// failure messages — before they leave the process, under the region's key
// from libs/fieldcrypt. The Temporal server, its database and anyone reading
// histories without this codec see ciphertext only.
//
// # The region key
//
// fieldcrypt keys belong to clinics; Temporal payloads belong to the region.
// The codec therefore uses a reserved pseudo-clinic per region whose id,
// [RegionKeyID], is a name-based (version 5) UUID derived from the region's
// name. Clinic ids are random (version 4) UUIDs, so the two can never
// coincide. Its Vault key is transit/keys/clinic-<RegionKeyID>, created once
// per region by whoever may create transit keys there (identity, or an
// operator; see [CreateRegionKey]); the data keys under it are created by the
// codec's own service on first use and stored, wrapped, in that service's
// database like any clinic's.
//
// Every payload is sealed whole (its metadata and data, as protobuf) with
// AES-256-GCM under the region's data key, bound to the scope
// {RegionKeyID, "temporal", "payload", "v1"}. The result carries the
// metadata encoding "binary/encrypted" and, as a key hint, the region key id.
// Payloads without that encoding pass through Decode untouched, so histories
// written before the codec was enabled stay readable.
package temporalcodec

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/residency"
)

// Metadata keys and values the codec writes on the payloads it encodes.
const (
	// MetadataEncoding is the value of the "encoding" metadata of an
	// encrypted payload.
	MetadataEncoding = "binary/encrypted"
	// MetadataKeyID names the metadata entry holding the key hint: the
	// region key id the payload was sealed under.
	MetadataKeyID = "encryption-key-id"
)

// ErrForeignKey is an encrypted payload sealed under another region's key
// (or another codec's): this codec cannot open it.
var ErrForeignKey = errors.New("temporalcodec: payload sealed under another key")

// regionNamespace is the UUID namespace region key ids are derived in. It is
// fixed forever: changing it would orphan every encrypted history.
var regionNamespace = uuid.MustParse("6f1c3f0e-52a4-4c1b-9a57-0d6f3b1e8c21")

// formatVersion is bound to every sealed payload as the scope's row id.
const formatVersion = "v1"

// RegionKeyID returns the fieldcrypt clinic id reserved for region's
// Temporal payloads: a version-5 UUID of "haven-temporal:<region>", the same
// in every process and release.
func RegionKeyID(region residency.Region) string {
	return uuid.NewSHA1(regionNamespace, []byte("haven-temporal:"+string(region))).String()
}

// CreateRegionKey creates the region's Vault key (idempotent). Only a
// process allowed to create transit keys can do it — in production identity
// (terraform/vault/policies/identity.hcl) or an operator running
// `vault write -f transit/keys/clinic-<RegionKeyID>`; the devstack's Vault
// lets any service.
func CreateRegionKey(ctx context.Context, keys fieldcrypt.Keys, region residency.Region) error {
	if _, err := residency.ParseRegion(string(region)); err != nil {
		return fmt.Errorf("temporalcodec: %w", err)
	}
	if err := keys.CreateKey(ctx, RegionKeyID(region)); err != nil {
		return fmt.Errorf("create temporal key of region %s: %w", region, err)
	}
	return nil
}

// Options tunes a Codec. Zero values mean the defaults.
type Options struct {
	// Timeout bounds one Encode or Decode call, which may need Vault and the
	// database on a key-cache miss (Temporal's codec interface carries no
	// context). Default 10 seconds.
	Timeout time.Duration
}

// Codec is a converter.PayloadCodec sealing payloads under a region's key.
// It is safe for concurrent use.
type Codec struct {
	crypter *fieldcrypt.Crypter
	keyID   string
	scope   fieldcrypt.Scope
	timeout time.Duration
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns the codec of region, sealing with crypter (the service's
// fieldcrypt.Crypter). The region's Vault key must exist (see
// [CreateRegionKey]) before the first Encode; [Codec.Prepare] checks it.
func New(crypter *fieldcrypt.Crypter, region residency.Region, o Options) (*Codec, error) {
	if crypter == nil {
		return nil, errors.New("temporalcodec: a crypter is required")
	}
	if _, err := residency.ParseRegion(string(region)); err != nil {
		return nil, fmt.Errorf("temporalcodec: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	id := RegionKeyID(region)
	return &Codec{
		crypter: crypter,
		keyID:   id,
		scope:   fieldcrypt.Scope{ClinicID: id, Table: "temporal", Column: "payload", RowID: formatVersion},
		timeout: o.Timeout,
	}, nil
}

// KeyID is the region key id this codec seals under (the key hint).
func (c *Codec) KeyID() string { return c.keyID }

// Prepare loads the region's data key, creating it on first use, so that a
// missing Vault key or an unreachable Vault shows at start-up rather than at
// the first booking. On SQLite call it outside any write transaction.
func (c *Codec) Prepare(ctx context.Context) error {
	if err := c.crypter.EnsureClinic(ctx, c.keyID); err != nil {
		return fmt.Errorf("temporal payload key %s: %w", c.keyID, err)
	}
	return nil
}

// Encode seals each payload. Payloads already sealed by a codec like this
// one are left as they are.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if encrypted(p) {
			out[i] = p
			continue
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("temporalcodec: encode payload %d: %w", i, err)
		}
		sealed, err := c.crypter.Encrypt(ctx, c.scope, plain)
		clear(plain)
		if err != nil {
			return nil, fmt.Errorf("temporalcodec: encode payload %d: %w", i, err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(MetadataEncoding),
				MetadataKeyID:              []byte(c.keyID),
			},
			Data: sealed,
		}
	}
	return out, nil
}

// Decode opens each payload this codec's kind sealed and passes any other
// through. A sealed payload that was altered fails with
// fieldcrypt.ErrIntegrity; one sealed under another key with [ErrForeignKey].
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if !encrypted(p) {
			out[i] = p
			continue
		}
		if string(p.GetMetadata()[MetadataKeyID]) != c.keyID {
			// The hint is not echoed: a payload's metadata may be anything.
			return nil, fmt.Errorf("temporalcodec: decode payload %d: %w", i, ErrForeignKey)
		}
		plain, err := c.crypter.Decrypt(ctx, c.scope, p.GetData())
		if err != nil {
			return nil, fmt.Errorf("temporalcodec: decode payload %d: %w", i, err)
		}
		var orig commonpb.Payload
		err = proto.Unmarshal(plain, &orig)
		clear(plain)
		if err != nil {
			return nil, fmt.Errorf("temporalcodec: decode payload %d: %w", i, fieldcrypt.ErrMalformed)
		}
		out[i] = &orig
	}
	return out, nil
}

func encrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[converter.MetadataEncoding]) == MetadataEncoding
}

// DataConverter returns Temporal's default data converter with this codec
// applied: set it as client.Options.DataConverter.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter returns a failure converter that moves failure messages
// and stack traces into an encoded payload, so they are sealed too: set it
// as client.Options.FailureConverter beside [Codec.DataConverter].
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          c.DataConverter(),
		EncodeCommonAttributes: true,
	})
}
