{{/*
The region's Kafka topics: global.kafka.topics, each merged over
global.kafka.topicDefaults, named haven.<global.region>.<key>.<version>,
with its durability settings checked. Returned as YAML ({topics: [...]},
sorted by key); use with fromYaml. fromYaml reads numbers back as float64,
so print them through int64 (604800000 would otherwise be 6.048e+08).

The checks repeat values.schema.json, which cannot compare two fields
(minInsyncReplicas < replicationFactor), and also hold when the schema is
skipped (--skip-schema-validation). They run whether or not Strimzi renders
the topics, because NOTES.txt prints the same settings as kafka-topics.sh
commands.
*/}}
{{- define "haven-region.kafkaTopics" -}}
{{- $g := .Values.global | default dict -}}
{{- $region := $g.region | required "global.region is required (montreal, portland, sydney or london)" -}}
{{- $kafka := $g.kafka | default dict -}}
{{- $defaults := $kafka.topicDefaults | default dict -}}
{{- $topics := $kafka.topics | default dict -}}
{{- if not $topics -}}
{{- fail "global.kafka.topics is empty: the region needs its audit and charting topics" -}}
{{- end -}}
{{- $out := list -}}
{{- range $key, $topic := $topics -}}
{{- /* Not sprig's merge: it would take a default over a topic's 0 or false. */ -}}
{{- $t := deepCopy $defaults -}}
{{- range $field, $value := ($topic | default dict) -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ := set $t $field $value -}}
{{- end -}}
{{- end -}}
{{- range $field := list "partitions" "replicationFactor" "minInsyncReplicas" "uncleanLeaderElection" "retentionMs" "cleanupPolicy" -}}
{{- if not (hasKey $t $field) -}}
{{- fail (printf "global.kafka.topics.%s.%s is required (or global.kafka.topicDefaults.%s)" $key $field $field) -}}
{{- end -}}
{{- end -}}
{{- $where := printf "global.kafka.topics.%s" $key -}}
{{- $partitions := int64 $t.partitions -}}
{{- $rf := int64 $t.replicationFactor -}}
{{- $minISR := int64 $t.minInsyncReplicas -}}
{{- $retention := int64 $t.retentionMs -}}
{{- if lt $partitions 1 -}}
{{- fail (printf "%s: partitions %d must be at least 1" $where $partitions) -}}
{{- end -}}
{{- if lt $rf 3 -}}
{{- fail (printf "%s: replicationFactor %d must be at least 3 (an acknowledged event must survive the loss of a broker)" $where $rf) -}}
{{- end -}}
{{- if lt $minISR 2 -}}
{{- fail (printf "%s: minInsyncReplicas %d must be at least 2 (with acks=all, 1 lets a single broker acknowledge alone)" $where $minISR) -}}
{{- end -}}
{{- if ge $minISR $rf -}}
{{- fail (printf "%s: minInsyncReplicas %d must be less than replicationFactor %d (otherwise one broker down stops every producer)" $where $minISR $rf) -}}
{{- end -}}
{{- if ne (toString $t.uncleanLeaderElection) "false" -}}
{{- fail (printf "%s: uncleanLeaderElection must be false (an out-of-sync leader would truncate acknowledged events)" $where) -}}
{{- end -}}
{{- if and (ne $retention -1) (lt $retention 3600000) -}}
{{- fail (printf "%s: retentionMs %d must be -1 (forever) or at least 3600000 (one hour)" $where $retention) -}}
{{- end -}}
{{- if ne (toString $t.cleanupPolicy) "delete" -}}
{{- fail (printf "%s: cleanupPolicy must be delete (compaction would keep only the last event of each clinic)" $where) -}}
{{- end -}}
{{- $out = append $out (dict
    "key" $key
    "name" (printf "haven.%s.%s.%s" $region $key (toString ($t.version | default "v1")))
    "partitions" $partitions
    "replicationFactor" $rf
    "minInsyncReplicas" $minISR
    "uncleanLeaderElection" false
    "retentionMs" $retention
    "cleanupPolicy" "delete") -}}
{{- end -}}
{{- toYaml (dict "topics" $out) -}}
{{- end }}

{{/*
The topic-level configuration of one topic from haven-region.kafkaTopics,
as key=value strings in a fixed order.
*/}}
{{- define "haven-region.kafkaTopicConfig" -}}
{{- $c := list -}}
{{- $c = append $c (printf "min.insync.replicas=%d" (int64 .minInsyncReplicas)) -}}
{{- $c = append $c "unclean.leader.election.enable=false" -}}
{{- $c = append $c (printf "retention.ms=%d" (int64 .retentionMs)) -}}
{{- $c = append $c (printf "cleanup.policy=%s" .cleanupPolicy) -}}
{{- join "\n" $c -}}
{{- end }}

{{/*
kafka-topics.sh / kafka-configs.sh commands that create the region's topics
and bring an existing topic's configuration in line, one paragraph per
topic (charts/README.md shows sydney's, checked by the tests).
*/}}
{{- define "haven-region.kafkaTopicCommands" -}}
{{- $topics := (include "haven-region.kafkaTopics" . | fromYaml).topics -}}
export KAFKA_BOOTSTRAP={{ include "haven-region.kafkaBootstrap" . }}
{{- range $topics }}
{{- $config := include "haven-region.kafkaTopicConfig" . | splitList "\n" }}

kafka-topics.sh --bootstrap-server "$KAFKA_BOOTSTRAP" --create --if-not-exists \
  --topic {{ .name }} \
  --partitions {{ int64 .partitions }} --replication-factor {{ int64 .replicationFactor }} \
{{- range $i, $kv := $config }}
  --config {{ $kv }}{{ if lt (add1 $i) (len $config) }} \{{ end }}
{{- end }}
kafka-configs.sh --bootstrap-server "$KAFKA_BOOTSTRAP" --alter \
  --entity-type topics --entity-name {{ .name }} \
  --add-config {{ join "," $config }}
# Check: PartitionCount: {{ int64 .partitions }}, ReplicationFactor: {{ int64 .replicationFactor }}, the configs above, {{ int64 .replicationFactor }} brokers in every Isr.
kafka-topics.sh --bootstrap-server "$KAFKA_BOOTSTRAP" --describe --topic {{ .name }}
{{- end }}
{{- end }}

{{/* global.kafka.brokers, comma-separated. */}}
{{- define "haven-region.kafkaBootstrap" -}}
{{- $brokers := dig "kafka" "brokers" list (.Values.global | default dict) -}}
{{- if not $brokers -}}
{{- fail "global.kafka.brokers is required" -}}
{{- end -}}
{{- join "," $brokers -}}
{{- end }}

{{/* Labels of the region-level objects (the KafkaTopics). */}}
{{- define "haven-region.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: kafka-topic
app.kubernetes.io/part-of: haven
app.kubernetes.io/managed-by: {{ .Release.Service }}
haven.health/region: {{ .Values.global.region }}
{{- end }}
