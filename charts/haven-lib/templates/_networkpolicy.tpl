{{/*
NetworkPolicy for one workload. Settings: global.networkPolicy merged with
the chart's networkPolicy (see haven-lib.networkPolicyValues):

  enabled                   default true
  ingressNamespaceSelector  namespaces whose pods may reach the http port:
                            the ingress controller that fronts the router's
                            traffic (default: namespace "ingress-nginx")
  allowHavenPeers           default true: other Haven pods of the same
                            namespace (app.kubernetes.io/part-of=haven) may
                            call this one, as services call each other's APIs
  extraIngressFrom          more NetworkPolicyPeers (e.g. a metrics scraper)
  egress.restrict           default false: egress is left open and the policy
                            lists only Ingress. When true, egress is limited
                            to DNS (egress.dns), Haven peers on 8080, each
                            egress.endpoints entry {name, cidr, ports} (the
                            region's PostgreSQL, Redis, Kafka, Vault, Temporal
                            and OTLP collector) and egress.extraRules.

Egress is open by default because the data endpoints are managed services
whose addresses the cluster operator knows, not the chart: turn restrict on
per region once the data-subnet CIDRs are fixed (charts/README.md).
*/}}
{{- define "haven-lib.networkpolicy" -}}
{{- $np := include "haven-lib.networkPolicyValues" . | fromYaml -}}
{{- if dig "enabled" true $np }}
{{- $egress := $np.egress | default dict }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "haven-lib.metadata" . | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "haven-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if $egress.restrict }}
    - Egress
    {{- end }}
  ingress:
    - from:
        - namespaceSelector:
            {{- toYaml (dig "ingressNamespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" "ingress-nginx")) $np) | nindent 12 }}
        {{- if dig "allowHavenPeers" true $np }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: haven
        {{- end }}
        {{- with $np.extraIngressFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - port: http
          protocol: TCP
  {{- if $egress.restrict }}
  egress:
    - to:
        {{- $dns := $egress.dns | default dict }}
        - namespaceSelector:
            {{- toYaml (dig "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" "kube-system")) $dns) | nindent 12 }}
          podSelector:
            {{- toYaml (dig "podSelector" (dict "matchLabels" (dict "k8s-app" "kube-dns")) $dns) | nindent 12 }}
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    {{- if dig "allowHavenPeers" true $np }}
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: haven
      ports:
        - port: 8080
          protocol: TCP
    {{- end }}
    {{- range $egress.endpoints }}
    - to:
        - ipBlock:
            cidr: {{ .cidr | required "networkPolicy.egress.endpoints[].cidr is required" }}
      {{- with .ports }}
      ports:
        {{- range . }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
      {{- end }}
    {{- end }}
    {{- with $egress.extraRules }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end }}
