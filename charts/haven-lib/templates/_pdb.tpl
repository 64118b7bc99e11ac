{{/*
PodDisruptionBudget: at most podDisruptionBudget.maxUnavailable (default 1)
pod down during voluntary disruptions, or podDisruptionBudget.minAvailable
when set. Pods that are not ready may always be evicted, so a broken rollout
never blocks a node drain.
*/}}
{{- define "haven-lib.pdb" -}}
{{- $pdb := .Values.podDisruptionBudget | default dict -}}
{{- if dig "enabled" true $pdb }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "haven-lib.metadata" . | nindent 2 }}
spec:
  selector:
    matchLabels:
      {{- include "haven-lib.selectorLabels" . | nindent 6 }}
  {{- if hasKey $pdb "minAvailable" }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  {{- end }}
  unhealthyPodEvictionPolicy: AlwaysAllow
{{- end }}
{{- end }}
