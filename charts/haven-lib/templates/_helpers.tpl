{{/*
Helpers shared by every Haven workload chart.

Two roles use this library:
  service  one of the six regional services (identity, scheduling, charting,
           billing, messaging, audit); reads region-wide settings from
           .Values.global (set by the haven-region umbrella chart).
  router   the global residency router (charts/haven-router); not in any region.

Values read here are documented in charts/identity/values.yaml,
charts/haven-router/values.yaml and, for `global`, in
charts/haven-region/values.yaml.
*/}}

{{/* The regions a service may run in. Mirrors haven-region/values.schema.json. */}}
{{- define "haven-lib.regions" -}}
montreal portland sydney london
{{- end }}

{{/* Workload role: "service" (default) or "router". */}}
{{- define "haven-lib.role" -}}
{{- $role := .Values.role | default "service" -}}
{{- if not (has $role (list "service" "router")) -}}
{{- fail (printf "role must be service or router, got %q" $role) -}}
{{- end -}}
{{- $role -}}
{{- end }}

{{/* Chart name, used for app.kubernetes.io/name. */}}
{{- define "haven-lib.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/*
Object name. Defaults to the chart name, not release-chart, so that a
region's services find each other at stable names (http://charting:8080).
One Haven release per namespace.
*/}}
{{- define "haven-lib.fullname" -}}
{{- .Values.fullnameOverride | default (include "haven-lib.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/*
Component: the binary, image and OpenTelemetry service name
(identity, ..., router). Defaults to the chart name.
*/}}
{{- define "haven-lib.component" -}}
{{- .Values.component | default .Chart.Name -}}
{{- end }}

{{/* The region label value: the service's region, or "global" for the router. */}}
{{- define "haven-lib.region" -}}
{{- if eq (include "haven-lib.role" .) "router" -}}
global
{{- else -}}
{{- $region := dig "region" "" (.Values.global | default dict) -}}
{{- if not $region -}}
{{- fail "global.region is required (montreal, portland, sydney or london)" -}}
{{- end -}}
{{- if not (has $region (splitList " " (include "haven-lib.regions" .))) -}}
{{- fail (printf "global.region %q is not one of: %s" $region (include "haven-lib.regions" .)) -}}
{{- end -}}
{{- $region -}}
{{- end -}}
{{- end }}

{{/* Image tag: image.tag, else global.image.tag, else the chart's appVersion. */}}
{{- define "haven-lib.imageTag" -}}
{{- $g := .Values.global | default dict -}}
{{- dig "tag" "" (.Values.image | default dict) | default (dig "image" "tag" "" $g) | default .Chart.AppVersion | toString -}}
{{- end }}

{{/* Full image reference: <registry>/<component>:<tag>, or @digest when set. */}}
{{- define "haven-lib.image" -}}
{{- $g := .Values.global | default dict -}}
{{- $registry := dig "image" "registry" "ghcr.io/havenhealth/haven" $g -}}
{{- $repo := dig "repository" "" (.Values.image | default dict) | default (printf "%s/%s" $registry (include "haven-lib.component" .)) -}}
{{- $digest := dig "digest" "" (.Values.image | default dict) -}}
{{- if $digest -}}
{{- printf "%s@%s" $repo $digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (include "haven-lib.imageTag" .) -}}
{{- end -}}
{{- end }}

{{/* Labels the selectors use. Never change them on a running release. */}}
{{- define "haven-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "haven-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object and pod. */}}
{{- define "haven-lib.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "haven-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ include "haven-lib.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/component: {{ include "haven-lib.role" . }}
app.kubernetes.io/part-of: haven
app.kubernetes.io/managed-by: {{ .Release.Service }}
haven.health/region: {{ include "haven-lib.region" . }}
{{- end }}

{{/* metadata: name, namespace, labels (indent the include by 2 under metadata:). */}}
{{- define "haven-lib.metadata" -}}
name: {{ include "haven-lib.fullname" . }}
namespace: {{ .Release.Namespace }}
labels:
  {{- include "haven-lib.labels" . | nindent 2 }}
{{- end }}

{{/*
PostgreSQL URL of a regional service, without a password (PGPASSWORD comes
from a Secret): postgres://<user>@<host>:<port>/<name>?sslmode=<sslmode>.
database.* overrides global.database.*; user and name default to the
component (identity, ...).
*/}}
{{- define "haven-lib.serviceDatabaseURL" -}}
{{- $g := .Values.global | default dict -}}
{{- $db := .Values.database | default dict -}}
{{- $gdb := $g.database | default dict -}}
{{- $host := $db.host | default $gdb.host | required "global.database.host is required" -}}
{{- $port := $db.port | default $gdb.port | default 5432 -}}
{{- $name := $db.name | default (include "haven-lib.component" .) -}}
{{- $user := $db.user | default (include "haven-lib.component" .) -}}
{{- $sslmode := $db.sslmode | default $gdb.sslmode | default "verify-full" -}}
{{- printf "postgres://%s@%s:%v/%s?sslmode=%s" $user $host $port $name $sslmode -}}
{{- end }}

{{/* Comma-separated list from a YAML list or a string. */}}
{{- define "haven-lib.commaList" -}}
{{- if kindIs "string" . -}}
{{- . -}}
{{- else -}}
{{- join "," . -}}
{{- end -}}
{{- end }}

{{/*
HAVEN_UPSTREAMS for the router: region/service=url,... from the
.Values.upstreams map (region -> service -> url), in sorted order.
*/}}
{{- define "haven-lib.routerUpstreams" -}}
{{- $pairs := list -}}
{{- range $region, $services := (.Values.upstreams | required "upstreams is required") -}}
{{- range $service, $url := $services -}}
{{- $pairs = append $pairs (printf "%s/%s=%s" $region $service $url) -}}
{{- end -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end }}

{{/*
Non-secret environment, as a YAML map: the content of the ConfigMap the
container reads with envFrom. Secrets never go here: see haven-lib.secretEnv.
*/}}
{{- define "haven-lib.env" -}}
{{- $g := .Values.global | default dict -}}
{{- $env := dict "HAVEN_HTTP_ADDR" ":8080" -}}
{{- if eq (include "haven-lib.role" .) "router" -}}
{{- $_ := set $env "HAVEN_DATABASE_URL" (dig "url" "" (.Values.database | default dict) | required "database.url is required") -}}
{{- $_ := set $env "HAVEN_REDIS_URL" (dig "url" "" (.Values.redis | default dict) | required "redis.url is required") -}}
{{- $_ := set $env "HAVEN_UPSTREAMS" (include "haven-lib.routerUpstreams" .) -}}
{{- $_ := set $env "HAVEN_PUBLIC_URL" (.Values.publicURL | required "publicURL is required (it names each region's token issuer)") -}}
{{- else -}}
{{- $_ := set $env "HAVEN_REGION" (include "haven-lib.region" .) -}}
{{- $_ := set $env "HAVEN_DATABASE_URL" (include "haven-lib.serviceDatabaseURL" .) -}}
{{- $_ := set $env "HAVEN_REDIS_URL" (dig "url" "" (.Values.redis | default dict) | default (dig "redis" "url" "" $g) | required "global.redis.url is required") -}}
{{- $brokers := dig "brokers" list (.Values.kafka | default dict) | default (dig "kafka" "brokers" list $g) -}}
{{- if not $brokers -}}
{{- fail "global.kafka.brokers is required" -}}
{{- end -}}
{{- $_ := set $env "HAVEN_KAFKA_BROKERS" (include "haven-lib.commaList" $brokers) -}}
{{- $_ := set $env "HAVEN_VAULT_ADDR" (dig "addr" "" (.Values.vault | default dict) | default (dig "vault" "addr" "" $g) | required "global.vault.addr is required") -}}
{{- /* Vault Kubernetes auth: one role per service, bound to its policy (terraform/vault/policies). */ -}}
{{- $_ := set $env "HAVEN_VAULT_ROLE" (include "haven-lib.component" .) -}}
{{- /* Every service verifies tokens against the region's identity JWKS. */ -}}
{{- $_ := set $env "HAVEN_IDENTITY_URL" (dig "identityURL" "http://identity" $g) -}}
{{- /* The region's peers, called with service-to-service signatures. */ -}}
{{- $_ := set $env "HAVEN_CHARTING_URL" (dig "chartingURL" "http://charting" $g) -}}
{{- $_ := set $env "HAVEN_MESSAGING_URL" (dig "messagingURL" "http://messaging" $g) -}}
{{- $_ := set $env "HAVEN_SCHEDULING_URL" (dig "schedulingURL" "http://scheduling" $g) -}}
{{- $_ := set $env "HAVEN_PUBLIC_URL" (dig "publicURL" "" $g | required "global.publicURL is required (it names each region's token issuer)") -}}
{{- $_ := set $env "HAVEN_TEMPORAL_ADDRESS" (dig "address" "" (.Values.temporal | default dict) | default (dig "temporal" "address" "" $g) | required "global.temporal.address is required") -}}
{{- $_ := set $env "HAVEN_TEMPORAL_NAMESPACE" (dig "namespace" "" (.Values.temporal | default dict) | default (dig "temporal" "namespace" "" $g) | required "global.temporal.namespace is required") -}}
{{- end -}}
{{- $_ := set $env "HAVEN_LOG_LEVEL" (.Values.logLevel | default (dig "logLevel" "info" $g)) -}}
{{- $_ := set $env "OTEL_SERVICE_NAME" (include "haven-lib.component" .) -}}
{{- with (.Values.otlpEndpoint | default (dig "otlpEndpoint" "" $g)) -}}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" . -}}
{{- end -}}
{{- range $k, $v := (.Values.env | default dict) -}}
{{- if regexMatch "(?i)(PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE)" $k -}}
{{- fail (printf "env.%s looks like a secret: put it in secretEnv (a secretKeyRef), never in the ConfigMap" $k) -}}
{{- end -}}
{{- $_ := set $env $k (toString $v) -}}
{{- end -}}
{{- range $k := keys $env | sortAlpha }}
{{ $k }}: {{ get $env $k | quote }}
{{- end -}}
{{- end }}

{{/* One env entry read from a Secret. Argument: (list name secretName key). */}}
{{- define "haven-lib.secretKeyRef" -}}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ index . 1 | required (printf "secret name for %s is required" (index . 0)) }}
      key: {{ index . 2 | required (printf "secret key for %s is required" (index . 0)) }}
{{- end }}

{{/*
Secret environment, as a YAML list of env entries that all use secretKeyRef.
Secret names and keys: secrets.<x>.{name,key} on the chart, else
global.secrets.<x>.{name,key}, else the defaults below.
  service: PGPASSWORD (haven-postgres/<component>),
           HAVEN_REDIS_PASSWORD (haven-redis/password),
           HAVEN_EDGE_SECRET (haven-edge/secret)
  router:  PGPASSWORD (haven-router-postgres/password),
           HAVEN_REDIS_PASSWORD (haven-router-redis/password),
           HAVEN_EDGE_SECRETS (haven-router-edge/secrets)
plus .Values.secretEnv: [{name, secretName, key}].
*/}}
{{- define "haven-lib.secretEnv" -}}
{{- $g := .Values.global | default dict -}}
{{- $s := .Values.secrets | default dict -}}
{{- $gs := $g.secrets | default dict -}}
{{- if eq (include "haven-lib.role" .) "router" -}}
{{ include "haven-lib.secretKeyRef" (list "PGPASSWORD" (dig "postgres" "name" "haven-router-postgres" $s) (dig "postgres" "key" "password" $s)) }}
{{ include "haven-lib.secretKeyRef" (list "HAVEN_REDIS_PASSWORD" (dig "redis" "name" "haven-router-redis" $s) (dig "redis" "key" "password" $s)) }}
{{ include "haven-lib.secretKeyRef" (list "HAVEN_EDGE_SECRETS" (dig "edge" "name" "haven-router-edge" $s) (dig "edge" "key" "secrets" $s)) }}
{{- else -}}
{{ include "haven-lib.secretKeyRef" (list "PGPASSWORD" (dig "postgres" "name" "" $s | default (dig "postgres" "name" "haven-postgres" $gs)) (dig "postgres" "key" "" $s | default (include "haven-lib.component" .))) }}
{{ include "haven-lib.secretKeyRef" (list "HAVEN_REDIS_PASSWORD" (dig "redis" "name" "" $s | default (dig "redis" "name" "haven-redis" $gs)) (dig "redis" "key" "" $s | default (dig "redis" "key" "password" $gs))) }}
{{ include "haven-lib.secretKeyRef" (list "HAVEN_EDGE_SECRET" (dig "edge" "name" "" $s | default (dig "edge" "name" "haven-edge" $gs)) (dig "edge" "key" "" $s | default (dig "edge" "key" "secret" $gs))) }}
{{- end -}}
{{- range .Values.secretEnv }}
{{ include "haven-lib.secretKeyRef" (list .name .secretName .key) }}
{{- end -}}
{{- end }}

{{/*
Network policy settings: global.networkPolicy deep-merged with the chart's
networkPolicy (the chart wins). Returned as YAML; use with fromYaml.
*/}}
{{- define "haven-lib.networkPolicyValues" -}}
{{- $g := .Values.global | default dict -}}
{{- $merged := mergeOverwrite (dict) (deepCopy (dig "networkPolicy" dict $g)) (deepCopy (.Values.networkPolicy | default dict)) -}}
{{- toYaml $merged -}}
{{- end }}
