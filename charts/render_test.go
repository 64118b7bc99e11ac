package charts

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestRegionChart renders haven-region with each region's values file and
// checks every service in it (subtests <region>/<service>).
func TestRegionChart(t *testing.T) {
	for _, region := range regions {
		t.Run(region, func(t *testing.T) {
			t.Parallel()
			r := renderRegion(t, region)

			if got, want := len(r.docs), 7*len(services); got != want {
				t.Errorf("rendered %d objects, want %d (7 kinds x %d services)", got, want, len(services))
			}
			for _, d := range r.docs {
				name := d.obj.GetLabels()["app.kubernetes.io/name"]
				if !slices.Contains(services, name) {
					t.Errorf("%s: object of unknown workload %q", d.source, name)
				}
			}
			for _, service := range services {
				t.Run(service, func(t *testing.T) {
					report(t, checkService(r, region, service))
				})
			}
		})
	}
}

// TestRegionChart_SchemaRejectsBadValues checks that values.schema.json runs
// and refuses a bogus region and missing or unsafe endpoints.
func TestRegionChart_SchemaRejectsBadValues(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(map[string]any)
		wantErr string
	}{
		{"bogus region", set("global.region", "atlantis"), "/global/region"},
		{"no region", unset("global.region"), "region"},
		{"no database host", unset("global.database.host"), "host"},
		{"plaintext database", set("global.database.sslmode", "disable"), "/global/database/sslmode"},
		{"plaintext redis", set("global.redis.url", "redis://redis.sydney.haven.internal:6379/0"), "/global/redis/url"},
		{"redis password in url", set("global.redis.url", "rediss://:hunter2@redis.sydney.haven.internal:6379/0"), "/global/redis/url"},
		{"no kafka brokers", set("global.kafka.brokers", []any{}), "/global/kafka/brokers"},
		{"broker without port", set("global.kafka.brokers", []any{"kafka-0.sydney.haven.internal"}), "/global/kafka/brokers"},
		{"no vault", unset("global.vault"), "vault"},
		{"plaintext vault", set("global.vault.addr", "http://vault.sydney.haven.internal:8200"), "/global/vault/addr"},
		{"no temporal namespace", unset("global.temporal.namespace"), "namespace"},
		{"secret in service env", set("identity.env.SMTP_PASSWORD", "hunter2"), "SMTP_PASSWORD"},
		{"misspelt service", set("identiy.enabled", true), "identiy"},
		{"misspelt global", set("global.databse.host", "x"), "databse"},
		{"kafka replication factor 1", set("global.kafka.topicDefaults.replicationFactor", 1), "/global/kafka/topicDefaults/replicationFactor"},
		{"kafka min.insync 1", set("global.kafka.topicDefaults.minInsyncReplicas", 1), "/global/kafka/topicDefaults/minInsyncReplicas"},
		{"kafka unclean election", set("global.kafka.topicDefaults.uncleanLeaderElection", true), "/global/kafka/topicDefaults/uncleanLeaderElection"},
		{"kafka replication factor as a string", set("global.kafka.topicDefaults.replicationFactor", "3"), "/global/kafka/topicDefaults/replicationFactor"},
		{"audit topic replication factor 2", set("global.kafka.topics.audit.replicationFactor", 2), "/global/kafka/topics/audit/replicationFactor"},
		{"audit topic min.insync 1", set("global.kafka.topics.audit.minInsyncReplicas", 1), "/global/kafka/topics/audit/minInsyncReplicas"},
		{"audit topic unclean election", set("global.kafka.topics.audit.uncleanLeaderElection", true), "/global/kafka/topics/audit/uncleanLeaderElection"},
		{"audit topic compacted", set("global.kafka.topics.audit.cleanupPolicy", "compact"), "/global/kafka/topics/audit/cleanupPolicy"},
		{"charting topic without partitions", set("global.kafka.topics.charting.partitions", 0), "/global/kafka/topics/charting/partitions"},
		{"charting topic retention 0", set("global.kafka.topics.charting.retentionMs", 0), "/global/kafka/topics/charting/retentionMs"},
		{"misspelt topic setting", set("global.kafka.topics.audit.minInsyncReplica", 2), "minInsyncReplica"},
		{"no kafka topics", set("global.kafka.topics", nil), "topics"},
		{"strimzi enabled as a string", set("global.kafka.strimzi.enabled", "true"), "/global/kafka/strimzi/enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := regionValues(t, "sydney")
			tt.edit(vals)
			_, err := render(regionChart(t), vals, false)
			if err == nil {
				t.Fatalf("rendered without error, want a schema error about %s", tt.wantErr)
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q is not a schema error about %s", err, tt.wantErr)
			}
		})
	}
}

// TestRegionChart_LibraryRefusesBadRegion checks that haven-lib itself
// refuses a bad region when the schema is skipped (--skip-schema-validation)
// or a service chart is installed on its own.
func TestRegionChart_LibraryRefusesBadRegion(t *testing.T) {
	for _, tt := range []struct {
		name    string
		region  any
		wantErr string
	}{
		{"bogus", "atlantis", `global.region "atlantis" is not one of`},
		{"empty", "", "global.region is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vals := regionValues(t, "sydney")
			set("global.region", tt.region)(vals)
			_, err := render(regionChart(t), vals, true)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestCheckService_DetectsBrokenRenderings proves the checks above can fail:
// each case breaks a sydney rendering, through values or by editing the
// decoded objects, and expects checkService to say so.
func TestCheckService_DetectsBrokenRenderings(t *testing.T) {
	tests := []struct {
		name   string
		values func(map[string]any)
		mutate func(*rendered)
		want   string
	}{
		{name: "database in another region", values: set("global.database.host", "postgres.london.haven.internal"), want: "HAVEN_DATABASE_URL host"},
		{name: "redis in another region", values: set("global.redis.url", "rediss://redis.london.haven.internal:6379/0"), want: "HAVEN_REDIS_URL"},
		{name: "one broker in another region", values: set("global.kafka.brokers", []any{"kafka-0.sydney.haven.internal:9092", "kafka-1.london.haven.internal:9092"}), want: "HAVEN_KAFKA_BROKERS entry"},
		{name: "vault in another region", values: set("global.vault.addr", "https://vault.portland.haven.internal:8200"), want: "HAVEN_VAULT_ADDR"},
		{name: "temporal in another region", values: set("global.temporal.address", "temporal-frontend.montreal.haven.internal:7233"), want: "HAVEN_TEMPORAL_ADDRESS"},
		{name: "another region named anywhere", values: set("identity.podAnnotations", map[string]any{"note": "copied from london"}), want: "names region london"},
		{name: "region overridden", values: set("identity.env.HAVEN_REGION", "london"), want: "HAVEN_REGION"},
		{name: "database without tls", values: set("identity.database.sslmode", "disable"), want: "sslmode"},
		{name: "no HPA", values: set("identity.autoscaling.enabled", false), want: "no HorizontalPodAutoscaler"},
		{name: "no PDB", values: set("identity.podDisruptionBudget.enabled", false), want: "no PodDisruptionBudget"},
		{name: "no NetworkPolicy", values: set("identity.networkPolicy.enabled", false), want: "no NetworkPolicy"},
		{name: "no resources", values: set("identity.resources.requests", nil), want: "requests are required"},
		{name: "writable root fs", mutate: func(r *rendered) {
			r.deployments["identity"].Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = new(false)
		}, want: "readOnlyRootFilesystem"},
		{name: "root allowed", mutate: func(r *rendered) {
			r.deployments["identity"].Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		}, want: "pod: runAsNonRoot"},
		{name: "capability added", mutate: func(r *rendered) {
			r.deployments["identity"].Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, want: "capabilities"},
		{name: "no liveness probe", mutate: func(r *rendered) {
			r.deployments["identity"].Spec.Template.Spec.Containers[0].LivenessProbe = nil
		}, want: "liveness probe"},
		{name: "stale checksum", mutate: func(r *rendered) {
			r.deployments["identity"].Spec.Template.Annotations["checksum/config"] = strings.Repeat("0", 64)
		}, want: "checksum/config"},
		{name: "password as a literal", mutate: func(r *rendered) {
			c := &r.deployments["identity"].Spec.Template.Spec.Containers[0]
			c.Env[0] = corev1.EnvVar{Name: "PGPASSWORD", Value: "hunter2"}
		}, want: "env PGPASSWORD is a literal value"},
		{name: "secret in the ConfigMap", mutate: func(r *rendered) {
			r.configMaps["identity"].Data["HAVEN_DATABASE_URL"] = "postgres://identity:hunter2@postgres.sydney.haven.internal:5432/identity?sslmode=verify-full"
		}, want: "URL with a password"},
		{name: "secrets through envFrom", mutate: func(r *rendered) {
			c := &r.deployments["identity"].Spec.Template.Spec.Containers[0]
			c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "haven-postgres"}}})
		}, want: "want envFrom"},
		{name: "ingress open to all", mutate: func(r *rendered) {
			r.netpols["identity"].Spec.Ingress[0].From = nil
		}, want: "admits every source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edits []func(map[string]any)
			if tt.values != nil {
				edits = append(edits, tt.values)
			}
			r := renderRegion(t, "sydney", edits...)
			if tt.mutate != nil {
				tt.mutate(r)
			}
			p := checkService(r, "sydney", "identity")
			if !slices.ContainsFunc(p, func(msg string) bool { return strings.Contains(msg, tt.want) }) {
				t.Fatalf("checkService did not report %q; it reported %q", tt.want, p)
			}
		})
	}
}

// TestRegionChart_ChecksumFollowsConfig checks that a config change changes
// the pod annotation (and so rolls the pods), and only for that service.
func TestRegionChart_ChecksumFollowsConfig(t *testing.T) {
	base := renderRegion(t, "sydney")
	changed := renderRegion(t, "sydney", set("identity.logLevel", "debug"))
	sum := func(r *rendered, s string) string {
		return r.deployments[s].Spec.Template.Annotations["checksum/config"]
	}
	if sum(base, "identity") == sum(changed, "identity") {
		t.Errorf("identity checksum/config did not change with its config")
	}
	if got := changed.configMaps["identity"].Data["HAVEN_LOG_LEVEL"]; got != "debug" {
		t.Errorf("identity HAVEN_LOG_LEVEL = %q, want debug", got)
	}
	if sum(base, "billing") != sum(changed, "billing") {
		t.Errorf("billing checksum/config changed although its config did not")
	}
}

// TestRegionChart_RestrictedEgress renders the NetworkPolicy with egress
// restricted to DNS and the region's data subnet.
func TestRegionChart_RestrictedEgress(t *testing.T) {
	const cidr = "10.64.16.0/20"
	r := renderRegion(t, "sydney",
		set("global.networkPolicy.egress.restrict", true),
		set("global.networkPolicy.egress.endpoints", []any{
			map[string]any{"name": "data-subnet", "cidr": cidr, "ports": []any{5432, 6379, 9092, 8200, 7233}},
		}))
	for _, service := range services {
		t.Run(service, func(t *testing.T) {
			np := r.netpols[service]
			if np == nil {
				t.Fatal("no NetworkPolicy")
			}
			if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
				t.Fatalf("policyTypes %v do not include Egress", np.Spec.PolicyTypes)
			}
			var dns, data bool
			for _, rule := range np.Spec.Egress {
				for _, port := range rule.Ports {
					if port.Port != nil && port.Port.IntValue() == 53 && port.Protocol != nil && *port.Protocol == corev1.ProtocolUDP {
						dns = true
					}
				}
				for _, peer := range rule.To {
					if peer.IPBlock != nil && peer.IPBlock.CIDR == cidr && len(rule.Ports) == 5 {
						data = true
					}
				}
			}
			if !dns || !data {
				t.Errorf("egress rules %+v: DNS allowed %v, data subnet on 5 ports allowed %v", np.Spec.Egress, dns, data)
			}
		})
	}
	// Without restrict, egress stays open: the policy governs ingress only.
	open := renderRegion(t, "sydney")
	if types := open.netpols["identity"].Spec.PolicyTypes; slices.Contains(types, networkingv1.PolicyTypeEgress) {
		t.Errorf("default policyTypes %v restrict egress", types)
	}
}

// TestRegionChart_ServiceCanBeDisabled checks the per-service condition.
func TestRegionChart_ServiceCanBeDisabled(t *testing.T) {
	r := renderRegion(t, "sydney", set("messaging.enabled", false))
	if n := len(r.docsOf("messaging")); n != 0 {
		t.Errorf("messaging disabled but %d of its objects rendered", n)
	}
	if r.deployments["charting"] == nil {
		t.Errorf("charting not rendered")
	}
}

// TestRouterChart renders the global router once.
func TestRouterChart(t *testing.T) {
	manifest, err := render(withLib(t, "haven-router"), nil, false)
	if err != nil {
		t.Fatalf("render haven-router: %v", err)
	}
	r, err := decode(manifest)
	if err != nil {
		t.Fatalf("decode haven-router: %v", err)
	}
	p, env := checkWorkload(r, workload{
		name:        "haven-router",
		component:   "router",
		regionLabel: "global",
		secretEnv:   []string{"PGPASSWORD", "HAVEN_REDIS_PASSWORD", "HAVEN_EDGE_SECRETS"},
	})
	report(t, p)
	if env == nil {
		t.FailNow()
	}
	if _, ok := env["HAVEN_REGION"]; ok {
		t.Errorf("the router is global but has HAVEN_REGION")
	}
	if env["HAVEN_HTTP_ADDR"] != ":8080" {
		t.Errorf("HAVEN_HTTP_ADDR = %q", env["HAVEN_HTTP_ADDR"])
	}
	for _, k := range []string{"HAVEN_DATABASE_URL", "HAVEN_REDIS_URL"} {
		u, err := url.Parse(env[k])
		if err != nil || u.Host == "" {
			t.Errorf("%s = %q is not a URL", k, env[k])
			continue
		}
		if _, has := u.User.Password(); has {
			t.Errorf("%s carries a password", k)
		}
	}

	upstreams := map[string]string{}
	for _, entry := range strings.Split(env["HAVEN_UPSTREAMS"], ",") {
		key, target, ok := strings.Cut(entry, "=")
		if !ok {
			t.Errorf("HAVEN_UPSTREAMS entry %q is not region/service=url", entry)
			continue
		}
		upstreams[key] = target
	}
	for _, region := range regions {
		for _, service := range services {
			key := region + "/" + service
			u, err := url.Parse(upstreams[key])
			if err != nil || u.Scheme != "https" || !namesRegion(u.Hostname(), region) {
				t.Errorf("HAVEN_UPSTREAMS %s = %q: want an https URL in %s", key, upstreams[key], region)
			}
		}
	}
	if len(upstreams) != len(regions)*len(services) {
		t.Errorf("HAVEN_UPSTREAMS has %d entries, want %d", len(upstreams), len(regions)*len(services))
	}
}
