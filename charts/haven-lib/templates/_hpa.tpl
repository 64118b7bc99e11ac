{{/*
HorizontalPodAutoscaler (autoscaling/v2) on CPU, and on memory when
autoscaling.targetMemoryUtilizationPercentage is set. When enabled the
Deployment leaves spec.replicas to the autoscaler.
*/}}
{{- define "haven-lib.hpa" -}}
{{- $as := .Values.autoscaling | default dict -}}
{{- if dig "enabled" false $as }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "haven-lib.metadata" . | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "haven-lib.fullname" . }}
  minReplicas: {{ $as.minReplicas | default 2 }}
  maxReplicas: {{ $as.maxReplicas | default 6 }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $as.targetCPUUtilizationPercentage | default 70 }}
    {{- with $as.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: {{ $as.scaleDownStabilizationSeconds | default 300 }}
{{- end }}
{{- end }}
