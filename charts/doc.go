// Package charts holds Haven's Helm charts (haven-lib, one chart per service,
// haven-router and the haven-region umbrella). Its tests render the charts
// with the Helm Go SDK, decode every manifest strictly into the Kubernetes
// API types and check the runtime contract and data residency of each region.
package charts
