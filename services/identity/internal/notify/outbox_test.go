package notify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/identity/internal/app"
)

func TestOutbox_RecordsMessagesWithoutAddresses(t *testing.T) {
	dir := t.TempDir()
	o := &Outbox{Dir: dir}
	require.NoError(t, o.Send(context.Background(), app.Message{ClinicID: "c1", UserID: "u1", Channel: "email",
		To: "aroha@example.org", Purpose: "password_reset", Body: "POST to /password-resets/tok123"}))
	raw, err := os.ReadFile(filepath.Join(dir, "outbox.jsonl"))
	require.NoError(t, err)
	require.Contains(t, string(raw), `"user_id":"u1"`)
	require.Contains(t, string(raw), "tok123")
	require.NotContains(t, string(raw), "aroha@example.org")
	require.Equal(t, 1, strings.Count(string(raw), "\n"))
}
