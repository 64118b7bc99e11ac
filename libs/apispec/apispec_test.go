package apispec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const spec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /v1/things/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
`

func TestCheck_AgreesAndDisagrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "openapi.yaml")
	require.NoError(t, os.WriteFile(path, []byte(spec), 0o644))

	Check(t, path, []string{"GET /v1/things/{id}"})

	ft := &testing.T{}
	Check(ft, path, []string{"GET /v1/things/{id}", "DELETE /v1/things/{id}"})
	require.True(t, ft.Failed(), "an undocumented route must fail the check")

	ft = &testing.T{}
	Check(ft, path, nil)
	require.True(t, ft.Failed(), "a documented operation without handler must fail the check")
}

func TestNormalize(t *testing.T) {
	require.Equal(t, []string{"DELETE /c/{slug}/{rest}", "GET /c/{slug}/{rest}", "PATCH /c/{slug}/{rest}", "POST /c/{slug}/{rest}", "PUT /c/{slug}/{rest}"},
		Normalize([]string{"/c/{slug}/{rest...}"}))
}
