{{/*
ServiceAccount for the workload. The API token is not mounted unless
serviceAccount.automountToken is true (Haven binaries do not call the
Kubernetes API). serviceAccount.annotations carries cloud workload-identity
bindings.
*/}}
{{- define "haven-lib.serviceaccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "haven-lib.metadata" . | nindent 2 }}
  {{- with dig "annotations" dict (.Values.serviceAccount | default dict) }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ dig "automountToken" false (.Values.serviceAccount | default dict) }}
{{- end }}
