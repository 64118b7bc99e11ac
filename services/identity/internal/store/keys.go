package store

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/havenhealth/haven/libs/authn"
)

type keyRow struct {
	ID         string `gorm:"primaryKey"`
	PrivateKey string
	CreatedAt  time.Time
	RetiredAt  *time.Time
}

func (keyRow) TableName() string { return "signing_keys" }

// SigningKeys implements app.Store: the unretired keys. (The private keys
// are to be wrapped by the region's Vault when per-clinic keys arrive.)
func (s *Store) SigningKeys(ctx context.Context) ([]authn.Key, error) {
	var rows []keyRow
	if err := s.db.WithContext(s.with(ctx)).Where("retired_at IS NULL").Order("created_at").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]authn.Key, 0, len(rows))
	for _, r := range rows {
		seed, err := base64.StdEncoding.DecodeString(r.PrivateKey)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("signing key %s is corrupt", r.ID)
		}
		out = append(out, authn.Key{ID: r.ID, Private: ed25519.NewKeyFromSeed(seed), CreatedAt: r.CreatedAt.UTC()})
	}
	return out, nil
}

// AddSigningKey implements app.Store.
func (s *Store) AddSigningKey(ctx context.Context, k authn.Key) error {
	r := keyRow{ID: k.ID, PrivateKey: base64.StdEncoding.EncodeToString(k.Private.Seed()), CreatedAt: k.CreatedAt.UTC()}
	return s.db.WithContext(s.with(ctx)).Clauses(clause.OnConflict{DoNothing: true}).Create(&r).Error
}
