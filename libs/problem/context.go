package problem

import (
	"context"
	"net/http"
)

func contextWithRequestID(r *http.Request, id string) context.Context {
	return context.WithValue(r.Context(), requestIDKey{}, id)
}

// RequestIDFromContext returns the request id stored in ctx, if any, so
// logs written below the HTTP layer can carry it.
func RequestIDFromContext(ctx context.Context) string {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id
	}
	return ""
}
