package charts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// nonRootUID is the distroless "nonroot" user every Haven container runs as.
const nonRootUID = 65532

// secretLike matches environment variable names that must only come from a Secret.
var secretLike = regexp.MustCompile(`(?i)(PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE)`)

// ---------------------------------------------------------------------------
// Checks. Each returns a list of problems so that the tests can also check
// that a broken rendering is caught.

type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// workload describes what one rendered workload must look like.
type workload struct {
	name        string   // app.kubernetes.io/name
	component   string   // binary, image and OTEL service name
	regionLabel string   // value of haven.health/region
	secretEnv   []string // env vars that must come from a Secret
}

// checkWorkload checks the objects of one workload against the runtime
// contract shared by the services and the router. It returns the
// effective environment of the container (ConfigMap + env).
func checkWorkload(r *rendered, w workload) (problems, map[string]string) {
	var p problems
	dep, sa, cm := r.deployments[w.name], r.serviceAccounts[w.name], r.configMaps[w.name]
	svc, pdb, hpa, np := r.services[w.name], r.pdbs[w.name], r.hpas[w.name], r.netpols[w.name]
	for kind, missing := range map[string]bool{
		"Deployment": dep == nil, "ServiceAccount": sa == nil, "ConfigMap": cm == nil, "Service": svc == nil,
		"PodDisruptionBudget": pdb == nil, "HorizontalPodAutoscaler": hpa == nil, "NetworkPolicy": np == nil,
	} {
		if missing {
			p.addf("no %s", kind)
		}
	}
	if len(p) > 0 {
		return p, nil
	}

	for _, d := range r.docsOf(w.name) {
		l := d.obj.GetLabels()
		if l["haven.health/region"] != w.regionLabel {
			p.addf("%s: label haven.health/region=%q, want %q", d.source, l["haven.health/region"], w.regionLabel)
		}
		if l["app.kubernetes.io/part-of"] != "haven" || l["app.kubernetes.io/instance"] != releaseName || l["app.kubernetes.io/managed-by"] != "Helm" {
			p.addf("%s: standard labels missing: %v", d.source, l)
		}
		if d.obj.GetNamespace() != namespace {
			p.addf("%s: namespace %q, want %q", d.source, d.obj.GetNamespace(), namespace)
		}
	}

	pod := dep.Spec.Template
	podLabels := pod.Labels
	if pod.Labels["haven.health/region"] != w.regionLabel {
		p.addf("pod label haven.health/region=%q, want %q", pod.Labels["haven.health/region"], w.regionLabel)
	}
	matches := func(what string, sel map[string]string) {
		if len(sel) == 0 {
			p.addf("%s: empty selector", what)
		}
		for k, v := range sel {
			if podLabels[k] != v {
				p.addf("%s: selector %s=%s does not match the pod labels", what, k, v)
			}
		}
	}
	if dep.Spec.Selector == nil {
		p.addf("Deployment: no selector")
	} else {
		matches("Deployment", dep.Spec.Selector.MatchLabels)
	}
	matches("Service", svc.Spec.Selector)
	if pdb.Spec.Selector == nil {
		p.addf("PodDisruptionBudget: no selector")
	} else {
		matches("PodDisruptionBudget", pdb.Spec.Selector.MatchLabels)
	}
	matches("NetworkPolicy", np.Spec.PodSelector.MatchLabels)

	// Autoscaling and disruption budget.
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != dep.Name {
		p.addf("HorizontalPodAutoscaler targets %s %s, want Deployment %s", ref.Kind, ref.Name, dep.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		p.addf("HorizontalPodAutoscaler: want 2 <= minReplicas <= maxReplicas, got %v..%d", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	if len(hpa.Spec.Metrics) == 0 {
		p.addf("HorizontalPodAutoscaler: no metrics")
	}
	if dep.Spec.Replicas != nil {
		p.addf("Deployment sets replicas although the HorizontalPodAutoscaler owns them")
	}
	if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		p.addf("PodDisruptionBudget: neither maxUnavailable nor minAvailable")
	}

	// Service and service account.
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].TargetPort.String() != "http" {
		p.addf("Service: want one port named http targeting http, got %+v", svc.Spec.Ports)
	}
	if pod.Spec.ServiceAccountName != sa.Name {
		p.addf("pod uses service account %q, want %q", pod.Spec.ServiceAccountName, sa.Name)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		p.addf("pod mounts the service account token")
	}

	// Pod security.
	psc := pod.Spec.SecurityContext
	if psc == nil {
		p.addf("pod: no securityContext")
	} else {
		if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			p.addf("pod: runAsNonRoot is not true")
		}
		if psc.RunAsUser == nil || *psc.RunAsUser != nonRootUID {
			p.addf("pod: runAsUser is not %d", nonRootUID)
		}
		if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			p.addf("pod: seccompProfile is not RuntimeDefault")
		}
	}
	if len(pod.Spec.Containers) != 1 {
		p.addf("pod: want 1 container, got %d", len(pod.Spec.Containers))
		return p, nil
	}
	c := pod.Spec.Containers[0]
	csc := c.SecurityContext
	if csc == nil {
		p.addf("container: no securityContext")
	} else {
		if csc.RunAsNonRoot == nil || !*csc.RunAsNonRoot {
			p.addf("container: runAsNonRoot is not true")
		}
		if csc.RunAsUser != nil && *csc.RunAsUser != nonRootUID {
			p.addf("container: runAsUser is %d", *csc.RunAsUser)
		}
		if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
			p.addf("container: readOnlyRootFilesystem is not true")
		}
		if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
			p.addf("container: allowPrivilegeEscalation is not false")
		}
		if csc.Privileged != nil && *csc.Privileged {
			p.addf("container: privileged")
		}
		if csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 {
			p.addf("container: capabilities must drop ALL and add none, got %+v", csc.Capabilities)
		}
	}

	// Image, port, probes.
	if !strings.Contains(c.Image, "/"+w.component+":") && !strings.Contains(c.Image, "/"+w.component+"@") {
		p.addf("container image %q is not the %s image", c.Image, w.component)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		p.addf("container: want one port http=8080, got %+v", c.Ports)
	}
	probe := func(what string, pr *corev1.Probe, path string) {
		if pr == nil || pr.HTTPGet == nil {
			p.addf("%s probe: missing or not httpGet", what)
			return
		}
		if pr.HTTPGet.Path != path || pr.HTTPGet.Port.String() != "http" {
			p.addf("%s probe: GET %s on %s, want GET %s on http", what, pr.HTTPGet.Path, pr.HTTPGet.Port.String(), path)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")
	if c.StartupProbe != nil {
		probe("startup", c.StartupProbe, "/healthz")
	}
	if grace := pod.Spec.TerminationGracePeriodSeconds; grace == nil || *grace < 25 {
		p.addf("terminationGracePeriodSeconds %v leaves no room for a 20 s drain", grace)
	}

	// Resources.
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		p.addf("container: cpu and memory requests are required, got %v", c.Resources.Requests)
	}
	if c.Resources.Limits.Memory().IsZero() {
		p.addf("container: a memory limit is required")
	}

	// Writable /tmp on an emptyDir.
	tmpVolume := ""
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" && !m.ReadOnly {
			tmpVolume = m.Name
		}
	}
	if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == tmpVolume && v.EmptyDir != nil }) {
		p.addf("no writable emptyDir mounted at /tmp")
	}

	// Config checksum.
	sum := pod.Annotations["checksum/config"]
	if ok, _ := regexp.MatchString(`^[0-9a-f]{64}$`, sum); !ok {
		p.addf("pod annotation checksum/config = %q, want a sha256", sum)
	} else if want := configMapChecksum(r, w.name); sum != want {
		p.addf("checksum/config %s is not the sha256 of the rendered ConfigMap (%s)", sum, want)
	}

	// Environment: the ConfigMap through envFrom, secrets only through
	// secretKeyRef.
	env := map[string]string{}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name || c.EnvFrom[0].SecretRef != nil {
		p.addf("container: want envFrom = [configMapRef %s], got %+v", cm.Name, c.EnvFrom)
	}
	for k, v := range cm.Data {
		if secretLike.MatchString(k) {
			p.addf("ConfigMap holds %s, which looks like a secret", k)
		}
		if u, err := url.Parse(v); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				p.addf("ConfigMap %s holds a URL with a password", k)
			}
		}
		env[k] = v
	}
	if len(cm.BinaryData) > 0 {
		p.addf("ConfigMap has binaryData")
	}
	fromSecret := map[string]bool{}
	for _, e := range c.Env {
		switch {
		case e.Value != "":
			p.addf("env %s is a literal value; non-secret settings belong in the ConfigMap", e.Name)
		case e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil:
			p.addf("env %s does not come from a secretKeyRef", e.Name)
		case e.ValueFrom.SecretKeyRef.Name == "" || e.ValueFrom.SecretKeyRef.Key == "":
			p.addf("env %s: secretKeyRef without name or key", e.Name)
		default:
			fromSecret[e.Name] = true
		}
		if _, dup := env[e.Name]; dup {
			p.addf("env %s is set both in the ConfigMap and in env", e.Name)
		}
		env[e.Name] = "<secret>"
	}
	for _, name := range w.secretEnv {
		if !fromSecret[name] {
			p.addf("env %s must come from a secretKeyRef", name)
		}
	}

	// NetworkPolicy: ingress limited to the http port from named peers.
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		p.addf("NetworkPolicy does not govern ingress")
	}
	for i, rule := range np.Spec.Ingress {
		if len(rule.From) == 0 {
			p.addf("NetworkPolicy ingress rule %d admits every source", i)
		}
		if len(rule.Ports) == 0 {
			p.addf("NetworkPolicy ingress rule %d admits every port", i)
		}
		for _, port := range rule.Ports {
			if port.Port == nil || (port.Port.String() != "http" && port.Port.String() != "8080") {
				p.addf("NetworkPolicy ingress rule %d opens port %v", i, port.Port)
			}
		}
	}
	return p, env
}

// configMapChecksum is the sha256 of the workload's ConfigMap as rendered.
func configMapChecksum(r *rendered, name string) string {
	for _, d := range r.docsOf(name) {
		if _, ok := d.obj.(*corev1.ConfigMap); ok {
			_, body, _ := strings.Cut(d.text, "\n") // drop "# Source: ..."
			sum := sha256.Sum256([]byte(body))
			return hex.EncodeToString(sum[:])
		}
	}
	return ""
}

// namesRegion reports whether a host name has the region as one of its labels.
func namesRegion(host, region string) bool {
	return slices.Contains(strings.Split(host, "."), region)
}

// checkService checks one regional service: the shared workload contract,
// then that every endpoint it is given lies in region.
func checkService(r *rendered, region, service string) problems {
	p, env := checkWorkload(r, workload{
		name:        service,
		component:   service,
		regionLabel: region,
		secretEnv:   []string{"PGPASSWORD", "HAVEN_REDIS_PASSWORD", "HAVEN_EDGE_SECRET"},
	})
	if env == nil {
		return p
	}
	want := map[string]string{
		"HAVEN_REGION":      region,
		"HAVEN_HTTP_ADDR":   ":8080",
		"OTEL_SERVICE_NAME": service,
	}
	for k, v := range want {
		if env[k] != v {
			p.addf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"HAVEN_DATABASE_URL", "HAVEN_REDIS_URL", "HAVEN_KAFKA_BROKERS", "HAVEN_VAULT_ADDR",
		"HAVEN_TEMPORAL_ADDRESS", "HAVEN_TEMPORAL_NAMESPACE", "HAVEN_LOG_LEVEL"} {
		if env[k] == "" {
			p.addf("%s is not set", k)
		}
	}

	if u, err := url.Parse(env["HAVEN_DATABASE_URL"]); err != nil {
		p.addf("HAVEN_DATABASE_URL: %v", err)
	} else {
		_, hasPassword := u.User.Password()
		switch {
		case u.Scheme != "postgres":
			p.addf("HAVEN_DATABASE_URL scheme %q, want postgres", u.Scheme)
		case hasPassword:
			p.addf("HAVEN_DATABASE_URL carries a password")
		case u.User.Username() != service:
			p.addf("HAVEN_DATABASE_URL user %q, want %q", u.User.Username(), service)
		case u.Path != "/"+service:
			p.addf("HAVEN_DATABASE_URL database %q, want %q", u.Path, "/"+service)
		case u.Query().Get("sslmode") != "verify-full":
			p.addf("HAVEN_DATABASE_URL sslmode %q, want verify-full", u.Query().Get("sslmode"))
		}
		if !namesRegion(u.Hostname(), region) {
			p.addf("HAVEN_DATABASE_URL host %q is not in %s", u.Hostname(), region)
		}
	}
	if u, err := url.Parse(env["HAVEN_REDIS_URL"]); err != nil || u.Scheme != "rediss" || !namesRegion(u.Hostname(), region) || u.User != nil {
		p.addf("HAVEN_REDIS_URL %q: want rediss://, no credentials, a host in %s", env["HAVEN_REDIS_URL"], region)
	}
	if u, err := url.Parse(env["HAVEN_VAULT_ADDR"]); err != nil || u.Scheme != "https" || !namesRegion(u.Hostname(), region) {
		p.addf("HAVEN_VAULT_ADDR %q: want https:// and a host in %s", env["HAVEN_VAULT_ADDR"], region)
	}
	brokers := strings.Split(env["HAVEN_KAFKA_BROKERS"], ",")
	for _, b := range brokers {
		if host, _, err := net.SplitHostPort(b); err != nil || !namesRegion(host, region) {
			p.addf("HAVEN_KAFKA_BROKERS entry %q is not a host:port in %s", b, region)
		}
	}
	if host, _, err := net.SplitHostPort(env["HAVEN_TEMPORAL_ADDRESS"]); err != nil || !namesRegion(host, region) {
		p.addf("HAVEN_TEMPORAL_ADDRESS %q is not a host:port in %s", env["HAVEN_TEMPORAL_ADDRESS"], region)
	}
	if !strings.Contains(env["HAVEN_TEMPORAL_NAMESPACE"], region) {
		p.addf("HAVEN_TEMPORAL_NAMESPACE %q does not name %s", env["HAVEN_TEMPORAL_NAMESPACE"], region)
	}

	// No manifest of this service may name another region.
	for _, d := range r.docsOf(service) {
		p = append(p, checkResidency(d.source, d.text, region)...)
	}
	return p
}

// checkResidency reports every other region that text names.
func checkResidency(source, text, region string) problems {
	var p problems
	lower := strings.ToLower(text)
	for _, other := range regions {
		if other != region && strings.Contains(lower, other) {
			p.addf("%s names region %s in a %s manifest", source, other, region)
		}
	}
	return p
}

func report(t *testing.T, p problems) {
	t.Helper()
	for _, msg := range p {
		t.Error(msg)
	}
}
