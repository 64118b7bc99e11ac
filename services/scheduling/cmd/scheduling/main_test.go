package main

import (
	"testing"

	"github.com/havenhealth/haven/libs/service/servicetest"
)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	servicetest.CheckContract(t, "../../api/openapi.yaml", newSpec())
}
