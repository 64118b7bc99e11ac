package main

import (
	"testing"

	"github.com/havenhealth/haven/libs/service/servicetest"
	"github.com/havenhealth/haven/services/audit/migrations"
)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	servicetest.CheckContract(t, "../../api/openapi.yaml", newSpec())
}

func TestSpec_EmbeddedDatabaseUsesTheChainsPageSize(t *testing.T) {
	if got := newSpec().SQLitePageSize; got != migrations.SQLitePageSize {
		t.Fatalf("SQLitePageSize = %d, want migrations.SQLitePageSize (%d)", got, migrations.SQLitePageSize)
	}
}
