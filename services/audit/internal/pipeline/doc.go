// Package pipeline holds the audit path's end-to-end tests and benchmark:
// a producing service's outbox, the relay, a Kafka-protocol broker, the
// consumer and the chain store, wired as in production, with failures
// injected where events could be lost or doubled.
package pipeline
