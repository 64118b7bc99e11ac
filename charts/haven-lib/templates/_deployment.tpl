{{/*
Deployment of one Haven binary.

- Port 8080 named http; startup and liveness probes on GET /healthz,
  readiness on GET /readyz.
- Non-root (uid/gid 65532, distroless "nonroot"), read-only root file
  system, no privilege escalation, all capabilities dropped, RuntimeDefault
  seccomp; a writable emptyDir at /tmp.
- Environment: the ConfigMap (envFrom) plus secretKeyRefs only.
- Pod annotation checksum/config rolls the pods when the ConfigMap changes.
- Shutdown: preStop sleeps preStopSleepSeconds (default 5) so endpoints and
  load balancers stop sending traffic, then SIGTERM; the binary drains
  within 20 s, inside terminationGracePeriodSeconds (default 30).
*/}}
{{- define "haven-lib.deployment" -}}
{{- $g := .Values.global | default dict -}}
{{- $preStop := 5 -}}
{{- if hasKey .Values "preStopSleepSeconds" -}}
{{- $preStop = int .Values.preStopSleepSeconds -}}
{{- end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "haven-lib.metadata" . | nindent 2 }}
spec:
  {{- if not (dig "enabled" false (.Values.autoscaling | default dict)) }}
  replicas: {{ .Values.replicaCount | default 2 }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "haven-lib.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "haven-lib.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include "haven-lib.configmap" . | sha256sum }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "haven-lib.fullname" . }}
      automountServiceAccountToken: {{ dig "automountToken" false (.Values.serviceAccount | default dict) }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds | default 30 }}
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      {{- with (dig "pullSecrets" list (.Values.image | default dict) | default (dig "image" "pullSecrets" list $g)) }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      containers:
        - name: {{ include "haven-lib.component" . }}
          image: {{ include "haven-lib.image" . }}
          imagePullPolicy: {{ dig "pullPolicy" "" (.Values.image | default dict) | default (dig "image" "pullPolicy" "IfNotPresent" $g) }}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "haven-lib.fullname" . }}
          env:
            {{- include "haven-lib.secretEnv" . | nindent 12 }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
            timeoutSeconds: 2
            failureThreshold: {{ dig "startupFailureThreshold" 60 (.Values.probes | default dict) }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
          {{- if gt $preStop 0 }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ $preStop }}
          {{- end }}
          resources:
            {{- toYaml (.Values.resources | required "resources is required") | nindent 12 }}
          securityContext:
            runAsNonRoot: true
            runAsUser: 65532
            runAsGroup: 65532
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            privileged: false
            capabilities:
              drop:
                - ALL
            seccompProfile:
              type: RuntimeDefault
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ .Values.tmpSizeLimit | default "64Mi" }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "haven-lib.selectorLabels" . | nindent 14 }}
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "haven-lib.selectorLabels" . | nindent 14 }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
