{{/*
ConfigMap with the workload's non-secret environment (haven-lib.env).
The Deployment reads it with envFrom and carries its checksum, so a change
here rolls the pods.
*/}}
{{- define "haven-lib.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "haven-lib.metadata" . | nindent 2 }}
data:
  {{- include "haven-lib.env" . | trim | nindent 2 }}
{{- end }}
