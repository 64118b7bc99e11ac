{{/* ClusterIP Service on port service.port (default 8080), named http. */}}
{{- define "haven-lib.service" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "haven-lib.metadata" . | nindent 2 }}
spec:
  type: ClusterIP
  selector:
    {{- include "haven-lib.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ dig "port" 8080 (.Values.service | default dict) }}
      targetPort: http
      protocol: TCP
      appProtocol: http
{{- end }}
