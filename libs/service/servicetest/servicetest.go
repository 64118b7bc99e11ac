// Package servicetest holds checks every service runs in its own tests.
package servicetest

import (
	"context"
	"testing"

	"github.com/havenhealth/haven/libs/apispec"
	"github.com/havenhealth/haven/libs/service"
)

// CheckContract fails t unless the OpenAPI document at specPath describes
// exactly the routes the service serves: the shared ones and those its
// Register adds.
func CheckContract(t *testing.T, specPath string, spec service.Spec) {
	t.Helper()
	rec := apispec.NewRecorder()
	service.RegisterBase(rec)
	if spec.Register != nil {
		if _, err := spec.Register(context.Background(), service.Deps{}, rec); err != nil {
			t.Fatalf("register routes: %v", err)
		}
	}
	apispec.Check(t, specPath, append([]string{"GET /healthz", "GET /readyz"}, rec.Patterns...))
}
