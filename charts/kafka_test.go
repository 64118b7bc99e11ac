package charts

import (
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// kafkaTopic is what global.kafka.topics in haven-region/values.yaml must
// give every region: the durability guarantees of charts/README.md ("Kafka
// topics and durability").
type kafkaTopic struct {
	suffix     string // haven.<region>.<suffix>
	partitions int64
}

var kafkaTopics = []kafkaTopic{
	{suffix: "audit.v1", partitions: 12},
	{suffix: "charting.v1", partitions: 12},
}

const (
	kafkaRetentionMs = "604800000" // 7 days
	strimziCluster   = "haven-kafka"
)

// TestRegionChart_StrimziKafkaTopics enables Strimzi and checks that each
// region renders exactly its KafkaTopics with the durability settings.
func TestRegionChart_StrimziKafkaTopics(t *testing.T) {
	for _, region := range regions {
		t.Run(region, func(t *testing.T) {
			t.Parallel()
			r := renderRegion(t, region, set("global.kafka.strimzi.enabled", true))
			if got, want := len(r.docs), 7*len(services)+len(kafkaTopics); got != want {
				t.Errorf("rendered %d objects, want %d (7 kinds x %d services + %d KafkaTopics)", got, want, len(services), len(kafkaTopics))
			}
			var names []string
			for name := range r.kafkaTopics {
				names = append(names, name)
			}
			slices.Sort(names)
			var want []string
			for _, kt := range kafkaTopics {
				want = append(want, "haven."+region+"."+kt.suffix)
			}
			if !slices.Equal(names, want) {
				t.Fatalf("KafkaTopics %v, want %v", names, want)
			}
			for _, kt := range kafkaTopics {
				name := "haven." + region + "." + kt.suffix
				t.Run(kt.suffix, func(t *testing.T) {
					report(t, checkKafkaTopic(r.kafkaTopics[name], region, name, kt.partitions, namespace))
				})
			}
			for _, d := range r.docs {
				if _, ok := d.obj.(*unstructured.Unstructured); ok {
					report(t, checkResidency(d.source, d.text, region))
				}
			}
		})
	}
}

// checkKafkaTopic checks one decoded KafkaTopic.
func checkKafkaTopic(u *unstructured.Unstructured, region, name string, partitions int64, ns string) problems {
	var p problems
	if u == nil {
		p.addf("no KafkaTopic %s", name)
		return p
	}
	if u.GetAPIVersion() != "kafka.strimzi.io/v1beta2" || u.GetKind() != "KafkaTopic" {
		p.addf("%s is %s %s", name, u.GetAPIVersion(), u.GetKind())
	}
	if u.GetNamespace() != ns {
		p.addf("%s: namespace %q, want %q", name, u.GetNamespace(), ns)
	}
	l := u.GetLabels()
	if l["strimzi.io/cluster"] != strimziCluster {
		p.addf("%s: label strimzi.io/cluster=%q, want %q", name, l["strimzi.io/cluster"], strimziCluster)
	}
	if l["haven.health/region"] != region || l["app.kubernetes.io/part-of"] != "haven" || l["app.kubernetes.io/managed-by"] != "Helm" {
		p.addf("%s: standard labels missing: %v", name, l)
	}
	if u.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
		p.addf("%s: no helm.sh/resource-policy: keep (uninstalling the release would delete the topic)", name)
	}

	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	for k := range spec {
		if !slices.Contains([]string{"topicName", "partitions", "replicas", "config"}, k) {
			p.addf("%s: unknown spec field %q", name, k)
		}
	}
	if got, _, _ := unstructured.NestedString(u.Object, "spec", "topicName"); got != name {
		p.addf("%s: spec.topicName %q", name, got)
	}
	if got, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas"); !isInt(got, 3) {
		p.addf("%s: spec.replicas = %v (%T), want 3", name, got, got)
	}
	if got, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "partitions"); !isInt(got, partitions) {
		p.addf("%s: spec.partitions = %v (%T), want %d", name, got, got, partitions)
	}
	config, ok, err := unstructured.NestedStringMap(u.Object, "spec", "config")
	if !ok || err != nil {
		p.addf("%s: spec.config is not a map of strings: %v", name, err)
		return p
	}
	wantConfig := map[string]string{
		"min.insync.replicas":            "2",
		"unclean.leader.election.enable": "false",
		"retention.ms":                   kafkaRetentionMs,
		"cleanup.policy":                 "delete",
	}
	for k, v := range wantConfig {
		if config[k] != v {
			p.addf("%s: spec.config[%s] = %q, want %q", name, k, config[k], v)
		}
	}
	for k := range config {
		if _, ok := wantConfig[k]; !ok {
			p.addf("%s: unexpected spec.config[%s]", name, k)
		}
	}
	return p
}

// isInt reports whether v, a number decoded from YAML, is the integer n.
func isInt(v any, n int64) bool {
	switch x := v.(type) {
	case int64:
		return x == n
	case float64:
		return x == float64(n)
	}
	return false
}

// TestCheckKafkaTopic_DetectsBrokenTopics proves checkKafkaTopic can fail.
func TestCheckKafkaTopic_DetectsBrokenTopics(t *testing.T) {
	const name = "haven.sydney.audit.v1"
	tests := []struct {
		name   string
		mutate func(u *unstructured.Unstructured)
		want   string
	}{
		{"two replicas", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(2), "spec", "replicas")
		}, "spec.replicas"},
		{"min.insync 1", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "1", "spec", "config", "min.insync.replicas")
		}, "min.insync.replicas"},
		{"unclean election", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "true", "spec", "config", "unclean.leader.election.enable")
		}, "unclean.leader.election.enable"},
		{"other cluster", func(u *unstructured.Unstructured) {
			l := u.GetLabels()
			l["strimzi.io/cluster"] = "other"
			u.SetLabels(l)
		}, "strimzi.io/cluster"},
		{"not kept", func(u *unstructured.Unstructured) { u.SetAnnotations(nil) }, "resource-policy"},
		{"misspelt spec field", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(3), "spec", "replica")
		}, `unknown spec field "replica"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := renderRegion(t, "sydney", set("global.kafka.strimzi.enabled", true))
			u := r.kafkaTopics[name]
			if p := checkKafkaTopic(u, "sydney", name, 12, namespace); len(p) > 0 {
				t.Fatalf("unbroken topic has problems: %q", p)
			}
			tt.mutate(u)
			p := checkKafkaTopic(u, "sydney", name, 12, namespace)
			if !slices.ContainsFunc(p, func(msg string) bool { return strings.Contains(msg, tt.want) }) {
				t.Fatalf("checkKafkaTopic did not report %q; it reported %q", tt.want, p)
			}
		})
	}
}

// TestRegionChart_StrimziOptions checks that Strimzi is off by default and
// that the cluster label and the Topic Operator's namespace can be set.
func TestRegionChart_StrimziOptions(t *testing.T) {
	if r := renderRegion(t, "sydney"); len(r.kafkaTopics) != 0 {
		t.Errorf("Strimzi disabled by default, but %d KafkaTopics rendered", len(r.kafkaTopics))
	}
	r := renderRegion(t, "sydney",
		set("global.kafka.strimzi.enabled", true),
		set("global.kafka.strimzi.cluster", "sydney-kafka"),
		set("global.kafka.strimzi.namespace", "kafka"))
	for name, u := range r.kafkaTopics {
		if got := u.GetLabels()["strimzi.io/cluster"]; got != "sydney-kafka" {
			t.Errorf("%s: strimzi.io/cluster=%q, want sydney-kafka", name, got)
		}
		if u.GetNamespace() != "kafka" {
			t.Errorf("%s: namespace %q, want kafka", name, u.GetNamespace())
		}
	}
	// A per-topic override applies to that topic only.
	r = renderRegion(t, "sydney",
		set("global.kafka.strimzi.enabled", true),
		set("global.kafka.topics.audit.partitions", 24))
	if got, _, _ := unstructured.NestedFieldNoCopy(r.kafkaTopics["haven.sydney.audit.v1"].Object, "spec", "partitions"); !isInt(got, 24) {
		t.Errorf("audit partitions = %v, want 24", got)
	}
	if got, _, _ := unstructured.NestedFieldNoCopy(r.kafkaTopics["haven.sydney.charting.v1"].Object, "spec", "partitions"); !isInt(got, 12) {
		t.Errorf("charting partitions = %v, want 12", got)
	}
}

// TestRegionChart_KafkaTopicsRefuseUnsafeSettings checks the rules the
// schema cannot express (min.insync.replicas < replication factor) and that
// the chart refuses unsafe topics on its own when the schema is skipped,
// with Strimzi enabled or not.
func TestRegionChart_KafkaTopicsRefuseUnsafeSettings(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(map[string]any)
		skipSchema bool
		wantErr    string
	}{
		{name: "min.insync equals replication factor", edit: set("global.kafka.topics.audit.minInsyncReplicas", 3),
			wantErr: "global.kafka.topics.audit: minInsyncReplicas 3 must be less than replicationFactor 3"},
		{name: "min.insync above replication factor", edit: set("global.kafka.topicDefaults.minInsyncReplicas", 4),
			wantErr: "minInsyncReplicas 4 must be less than replicationFactor 3"},
		{name: "replication factor 1 without schema", edit: set("global.kafka.topics.audit.replicationFactor", 1), skipSchema: true,
			wantErr: "global.kafka.topics.audit: replicationFactor 1 must be at least 3"},
		{name: "min.insync 1 without schema", edit: set("global.kafka.topicDefaults.minInsyncReplicas", 1), skipSchema: true,
			wantErr: "minInsyncReplicas 1 must be at least 2"},
		{name: "unclean election without schema", edit: set("global.kafka.topics.charting.uncleanLeaderElection", true), skipSchema: true,
			wantErr: "global.kafka.topics.charting: uncleanLeaderElection must be false"},
		{name: "no partitions without schema", edit: set("global.kafka.topics.charting.partitions", 0), skipSchema: true,
			wantErr: "partitions 0 must be at least 1"},
		{name: "compacted without schema", edit: set("global.kafka.topics.audit.cleanupPolicy", "compact"), skipSchema: true,
			wantErr: "cleanupPolicy must be delete"},
	}
	for _, tt := range tests {
		for _, strimzi := range []bool{false, true} {
			name := tt.name
			if strimzi {
				name += " with strimzi"
			}
			t.Run(name, func(t *testing.T) {
				vals := regionValues(t, "sydney")
				tt.edit(vals)
				set("global.kafka.strimzi.enabled", strimzi)(vals)
				_, err := render(regionChart(t), vals, tt.skipSchema)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
			})
		}
	}
}

// TestRegionChart_KafkaTopicCommands checks the kafka-topics.sh and
// kafka-configs.sh commands NOTES.txt prints when Strimzi is not used, and
// that charts/README.md shows sydney's exactly as the chart generates them.
func TestRegionChart_KafkaTopicCommands(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, region := range regions {
		t.Run(region, func(t *testing.T) {
			rel, err := renderRelease(regionChart(t), regionValues(t, region), false)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			notes := rel.Info.Notes
			bootstrap := "export KAFKA_BOOTSTRAP=kafka-0." + region + ".haven.internal:9092,kafka-1." + region + ".haven.internal:9092,kafka-2." + region + ".haven.internal:9092"
			if !strings.Contains(notes, bootstrap+"\n") {
				t.Errorf("NOTES do not set %s:\n%s", bootstrap, notes)
			}
			for _, kt := range kafkaTopics {
				name := "haven." + region + "." + kt.suffix
				for _, want := range []string{
					"--topic " + name + " \\\n  --partitions 12 --replication-factor 3 \\\n" +
						"  --config min.insync.replicas=2 \\\n  --config unclean.leader.election.enable=false \\\n" +
						"  --config retention.ms=" + kafkaRetentionMs + " \\\n  --config cleanup.policy=delete\n",
					"--entity-type topics --entity-name " + name + " \\\n" +
						"  --add-config min.insync.replicas=2,unclean.leader.election.enable=false,retention.ms=" + kafkaRetentionMs + ",cleanup.policy=delete\n",
					"--describe --topic " + name,
				} {
					if !strings.Contains(notes, want) {
						t.Errorf("NOTES lack %q:\n%s", want, notes)
					}
				}
			}
			report(t, checkResidency("NOTES.txt", notes, region))

			if region == "sydney" {
				var commands int
				for _, para := range strings.Split(notes, "\n\n") {
					if strings.HasPrefix(para, "export KAFKA_BOOTSTRAP=") || strings.HasPrefix(para, "kafka-topics.sh ") {
						commands++
						if !strings.Contains(string(readme), para+"\n") {
							t.Errorf("charts/README.md does not show this command block as generated by the chart:\n%s", para)
						}
					}
				}
				if commands != 1+len(kafkaTopics) {
					t.Errorf("found %d command blocks in the NOTES, want %d", commands, 1+len(kafkaTopics))
				}
			}
		})
	}

	rel, err := renderRelease(regionChart(t), func() map[string]any {
		v := regionValues(t, "sydney")
		set("global.kafka.strimzi.enabled", true)(v)
		return v
	}(), false)
	if err != nil {
		t.Fatalf("render with strimzi: %v", err)
	}
	if strings.Contains(rel.Info.Notes, "kafka-topics.sh") {
		t.Errorf("NOTES print kafka-topics.sh commands although Strimzi manages the topics:\n%s", rel.Info.Notes)
	}
}
