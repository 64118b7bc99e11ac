package temporalcodec_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/libs/temporalcodec"
)

const secret = "Ada Lovelace <ada@example.org> +15555550100"

type fixture struct {
	keys    *fieldcrypttest.MemoryKeys
	crypter *fieldcrypt.Crypter
	codec   *temporalcodec.Codec
}

// newFixture builds a codec over a real Crypter: a fresh database
// (storetest) and in-memory Vault transit keys, the region key created as
// identity would.
func newFixture(t *testing.T, region residency.Region) *fixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, nil)
	require.NoError(t, fieldcrypt.Migrate(ctx, db))
	keys := fieldcrypttest.NewMemoryKeys()
	require.NoError(t, temporalcodec.CreateRegionKey(ctx, keys, region))
	crypter := fieldcrypt.New(keys, db, fieldcrypt.Options{})
	codec, err := temporalcodec.New(crypter, region, temporalcodec.Options{})
	require.NoError(t, err)
	require.NoError(t, codec.Prepare(ctx))
	return &fixture{keys: keys, crypter: crypter, codec: codec}
}

func jsonPayloads(t *testing.T, values ...any) []*commonpb.Payload {
	t.Helper()
	out := make([]*commonpb.Payload, len(values))
	for i, v := range values {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		require.NoError(t, err)
		out[i] = p
	}
	return out
}

func TestRegionKeyID_IsAStableValidClinicIDPerRegion(t *testing.T) {
	seen := map[string]residency.Region{}
	for _, r := range residency.Regions() {
		id := temporalcodec.RegionKeyID(r)
		require.True(t, fieldcrypt.ValidClinicID(id), "%s: %q", r, id)
		require.Equal(t, id, temporalcodec.RegionKeyID(r), "deterministic")
		u, err := uuid.Parse(id)
		require.NoError(t, err)
		require.Equal(t, uuid.Version(5), u.Version(), "never a random (v4) clinic id")
		_, dup := seen[id]
		require.False(t, dup, "%s and %s share a key id", r, seen[id])
		seen[id] = r
	}
	// Pinned: changing the derivation would orphan every encrypted history.
	require.Equal(t, "7ed43816-b9a7-5bf0-81bf-9651a431c0f4", temporalcodec.RegionKeyID(residency.Montreal))
}

func TestCodec_RoundTrip(t *testing.T) {
	f := newFixture(t, residency.Montreal)
	in := jsonPayloads(t, map[string]string{"note": secret}, 42, nil)
	in = append(in, &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("binary/plain")}, Data: []byte{0, 1, 2}})

	enc, err := f.codec.Encode(in)
	require.NoError(t, err)
	require.Len(t, enc, len(in))
	for i, p := range enc {
		require.Equal(t, temporalcodec.MetadataEncoding, string(p.Metadata[converter.MetadataEncoding]), "payload %d", i)
		require.Equal(t, temporalcodec.RegionKeyID(residency.Montreal), string(p.Metadata[temporalcodec.MetadataKeyID]))
		require.Len(t, p.Metadata, 2, "only the encoding and the key hint are visible")
	}

	dec, err := f.codec.Decode(enc)
	require.NoError(t, err)
	require.Len(t, dec, len(in))
	for i := range in {
		require.True(t, proto.Equal(in[i], dec[i]), "payload %d differs after the round trip", i)
	}
	var got map[string]string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &got))
	require.Equal(t, secret, got["note"])
}

func TestCodec_EncodedBytesHideThePlaintext(t *testing.T) {
	f := newFixture(t, residency.Sydney)
	in := jsonPayloads(t, secret)
	enc, err := f.codec.Encode(in)
	require.NoError(t, err)
	raw, err := proto.Marshal(enc[0])
	require.NoError(t, err)
	for _, s := range []string{secret, "Ada Lovelace", "ada@example.org", "+15555550100", "json/plain"} {
		require.False(t, bytes.Contains(raw, []byte(s)), "encoded payload contains %q", s)
	}
	// Fresh nonce each time: equal inputs give different ciphertexts.
	again, err := f.codec.Encode(in)
	require.NoError(t, err)
	require.False(t, bytes.Equal(enc[0].Data, again[0].Data))
}

func TestCodec_TamperedPayloadFails(t *testing.T) {
	f := newFixture(t, residency.Montreal)
	enc, err := f.codec.Encode(jsonPayloads(t, secret))
	require.NoError(t, err)
	for _, i := range []int{len(enc[0].Data) - 1, len(enc[0].Data) / 2} {
		bad := proto.Clone(enc[0]).(*commonpb.Payload)
		bad.Data[i] ^= 0x01
		_, err = f.codec.Decode([]*commonpb.Payload{bad})
		require.ErrorIs(t, err, fieldcrypt.ErrIntegrity, "byte %d flipped", i)
		require.NotContains(t, err.Error(), "Ada")
	}
	truncated := proto.Clone(enc[0]).(*commonpb.Payload)
	truncated.Data = truncated.Data[:10]
	_, err = f.codec.Decode([]*commonpb.Payload{truncated})
	require.ErrorIs(t, err, fieldcrypt.ErrMalformed)
}

func TestCodec_ForeignPayloadsPassThroughDecodeUntouched(t *testing.T) {
	f := newFixture(t, residency.Montreal)
	plain := jsonPayloads(t, "not encrypted", 7)
	dec, err := f.codec.Decode(plain)
	require.NoError(t, err)
	require.Len(t, dec, 2)
	for i := range plain {
		require.Same(t, plain[i], dec[i], "a payload the codec did not encode is returned as it is")
	}
}

func TestCodec_EncodeLeavesAlreadyEncryptedPayloads(t *testing.T) {
	f := newFixture(t, residency.Montreal)
	enc, err := f.codec.Encode(jsonPayloads(t, secret))
	require.NoError(t, err)
	twice, err := f.codec.Encode(enc)
	require.NoError(t, err)
	require.Same(t, enc[0], twice[0], "sealed once, not twice")
}

func TestCodec_RefusesAnotherRegionsPayload(t *testing.T) {
	ctx := context.Background()
	mtl := newFixture(t, residency.Montreal)
	enc, err := mtl.codec.Encode(jsonPayloads(t, secret))
	require.NoError(t, err)

	// Sydney's codec over the same database and Vault still cannot open it.
	require.NoError(t, temporalcodec.CreateRegionKey(ctx, mtl.keys, residency.Sydney))
	syd, err := temporalcodec.New(mtl.crypter, residency.Sydney, temporalcodec.Options{})
	require.NoError(t, err)
	_, err = syd.Decode(enc)
	require.ErrorIs(t, err, temporalcodec.ErrForeignKey)

	// Forging the hint does not help: the value is bound to its region key.
	forged := proto.Clone(enc[0]).(*commonpb.Payload)
	forged.Metadata[temporalcodec.MetadataKeyID] = []byte(syd.KeyID())
	_, err = syd.Decode([]*commonpb.Payload{forged})
	require.ErrorIs(t, err, fieldcrypt.ErrIntegrity)
}

func TestCodec_MissingRegionKeyFailsWithoutLeaking(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, nil)
	require.NoError(t, fieldcrypt.Migrate(ctx, db))
	crypter := fieldcrypt.New(fieldcrypttest.NewMemoryKeys(), db, fieldcrypt.Options{})
	codec, err := temporalcodec.New(crypter, residency.London, temporalcodec.Options{})
	require.NoError(t, err)
	require.ErrorIs(t, codec.Prepare(ctx), fieldcrypt.ErrKeyDestroyed, "the region's Vault key was never created")
	_, err = codec.Encode(jsonPayloads(t, secret))
	require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed)
	require.NotContains(t, err.Error(), "Ada")
}

func TestNew_RejectsUnknownRegions(t *testing.T) {
	f := newFixture(t, residency.Montreal)
	_, err := temporalcodec.New(f.crypter, residency.Region("atlantis"), temporalcodec.Options{})
	require.Error(t, err)
	_, err = temporalcodec.New(nil, residency.Montreal, temporalcodec.Options{})
	require.Error(t, err)
	require.Error(t, temporalcodec.CreateRegionKey(context.Background(), f.keys, residency.Region("")))
}

func TestDataConverter_SealsValuesAndReadsThemBack(t *testing.T) {
	f := newFixture(t, residency.Portland)
	dc := f.codec.DataConverter()
	p, err := dc.ToPayload(map[string]string{"name": secret})
	require.NoError(t, err)
	require.Equal(t, temporalcodec.MetadataEncoding, string(p.Metadata[converter.MetadataEncoding]))
	require.False(t, bytes.Contains(p.Data, []byte("Ada")))
	var got map[string]string
	require.NoError(t, dc.FromPayload(p, &got))
	require.Equal(t, secret, got["name"])
}

func TestFailureConverter_SealsFailureMessages(t *testing.T) {
	f := newFixture(t, residency.Portland)
	fc := f.codec.FailureConverter()
	failure := fc.ErrorToFailure(temporal.NewApplicationError("refused for "+secret, "Test"))
	raw, err := proto.Marshal(failure)
	require.NoError(t, err)
	require.False(t, bytes.Contains(raw, []byte("Ada")), "failure message stored in plaintext")
	back := fc.FailureToError(failure)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(back, &appErr))
	require.Contains(t, appErr.Error(), secret)
}
