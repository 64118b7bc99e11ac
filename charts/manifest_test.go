package charts

// Loading, rendering and strictly decoding the charts with the Helm SDK.

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

var (
	regions  = []string{"montreal", "portland", "sydney", "london"}
	services = []string{"identity", "scheduling", "charting", "billing", "messaging", "audit"}
)

const (
	releaseName = "haven"
	namespace   = "haven"
)

// loadChart loads a chart directory of this module.
func loadChart(t testing.TB, dir string) *chart.Chart {
	t.Helper()
	c, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("load chart %s: %v", dir, err)
	}
	return c
}

// withLib loads a workload chart and attaches haven-lib to it in memory,
// standing in for `helm dependency build` (file:// dependencies are not
// vendored in the repository).
func withLib(t testing.TB, dir string) *chart.Chart {
	t.Helper()
	c := loadChart(t, dir)
	if !declaresDependency(c, "haven-lib", "file://../haven-lib") {
		t.Fatalf("%s/Chart.yaml does not declare haven-lib (file://../haven-lib) as a dependency", dir)
	}
	c.SetDependencies(loadChart(t, "haven-lib"))
	return c
}

// regionChart loads haven-region with the six service charts attached.
func regionChart(t testing.TB) *chart.Chart {
	t.Helper()
	umbrella := loadChart(t, "haven-region")
	deps := make([]*chart.Chart, 0, len(services))
	for _, s := range services {
		if !declaresDependency(umbrella, s, "file://../"+s) {
			t.Fatalf("haven-region/Chart.yaml does not declare %s (file://../%s)", s, s)
		}
		deps = append(deps, withLib(t, s))
	}
	umbrella.SetDependencies(deps...)
	return umbrella
}

func declaresDependency(c *chart.Chart, name, repository string) bool {
	for _, d := range c.Metadata.Dependencies {
		if d.Name == name && d.Repository == repository {
			return true
		}
	}
	return false
}

// regionValues reads charts/haven-region/values-<region>.yaml.
func regionValues(t testing.TB, region string) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValuesFile(filepath.Join("haven-region", "values-"+region+".yaml"))
	if err != nil {
		t.Fatalf("read values for %s: %v", region, err)
	}
	return vals.AsMap()
}

// render renders c as `helm install --dry-run` would, client-side only.
// Values are validated against the charts' values.schema.json.
func render(c *chart.Chart, vals map[string]any, skipSchema bool) (string, error) {
	rel, err := renderRelease(c, vals, skipSchema)
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

// renderRelease is render returning the whole release (manifest and NOTES).
func renderRelease(c *chart.Chart, vals map[string]any, skipSchema bool) (*release.Release, error) {
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.ClientOnly = true
	inst.DryRun = true
	inst.ReleaseName = releaseName
	inst.Namespace = namespace
	inst.SkipSchemaValidation = skipSchema
	inst.KubeVersion = &chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"}
	return inst.Run(c, vals)
}

// renderRegion renders haven-region for region, with optional value edits.
func renderRegion(t testing.TB, region string, edits ...func(map[string]any)) *rendered {
	t.Helper()
	vals := regionValues(t, region)
	for _, edit := range edits {
		edit(vals)
	}
	manifest, err := render(regionChart(t), vals, false)
	if err != nil {
		t.Fatalf("render haven-region for %s: %v", region, err)
	}
	r, err := decode(manifest)
	if err != nil {
		t.Fatalf("decode haven-region for %s: %v", region, err)
	}
	return r
}

// set assigns value at a dotted path of vals, creating maps on the way.
func set(path string, value any) func(map[string]any) {
	return func(vals map[string]any) {
		keys := strings.Split(path, ".")
		m := vals
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = value
	}
}

// unset deletes the value at a dotted path of vals.
func unset(path string) func(map[string]any) {
	return func(vals map[string]any) {
		keys := strings.Split(path, ".")
		m := vals
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				return
			}
			m = next
		}
		delete(m, keys[len(keys)-1])
	}
}

// ---------------------------------------------------------------------------
// Strict decoding

// object is any typed Kubernetes object.
type object interface {
	metav1.Object
	runtime.Object
}

// doc is one rendered manifest.
type doc struct {
	source string // the template it came from (# Source: ...)
	text   string
	obj    object
}

// rendered holds the decoded objects of a release, indexed by kind and by
// the app.kubernetes.io/name label.
type rendered struct {
	docs            []doc
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	serviceAccounts map[string]*corev1.ServiceAccount
	configMaps      map[string]*corev1.ConfigMap
	pdbs            map[string]*policyv1.PodDisruptionBudget
	hpas            map[string]*autoscalingv2.HorizontalPodAutoscaler
	netpols         map[string]*networkingv1.NetworkPolicy
	kafkaTopics     map[string]*unstructured.Unstructured // by metadata.name
}

// kinds lists every kind a Haven chart may render. Anything else (a Secret
// above all) is an error.
var kinds = map[schema.GroupVersionKind]func() object{
	appsv1.SchemeGroupVersion.WithKind("Deployment"):                     func() object { return &appsv1.Deployment{} },
	corev1.SchemeGroupVersion.WithKind("Service"):                        func() object { return &corev1.Service{} },
	corev1.SchemeGroupVersion.WithKind("ServiceAccount"):                 func() object { return &corev1.ServiceAccount{} },
	corev1.SchemeGroupVersion.WithKind("ConfigMap"):                      func() object { return &corev1.ConfigMap{} },
	policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"):          func() object { return &policyv1.PodDisruptionBudget{} },
	autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"): func() object { return &autoscalingv2.HorizontalPodAutoscaler{} },
	networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"):            func() object { return &networkingv1.NetworkPolicy{} },
}

// kafkaTopicGVK is the one custom resource a chart may render (haven-region,
// when global.kafka.strimzi.enabled). Strimzi's Go types are not vendored:
// it is decoded generically (unstructured) and checked field by field.
var kafkaTopicGVK = schema.GroupVersionKind{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "KafkaTopic"}

// decode splits a manifest stream and strictly decodes each document into
// its Kubernetes API type: unknown or duplicate fields are errors.
func decode(manifest string) (*rendered, error) {
	r := &rendered{
		deployments:     map[string]*appsv1.Deployment{},
		services:        map[string]*corev1.Service{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		configMaps:      map[string]*corev1.ConfigMap{},
		pdbs:            map[string]*policyv1.PodDisruptionBudget{},
		hpas:            map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		netpols:         map[string]*networkingv1.NetworkPolicy{},
		kafkaTopics:     map[string]*unstructured.Unstructured{},
	}
	split := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(split))
	for k := range split {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	for _, k := range keys {
		text := split[k]
		source := ""
		if first, _, ok := strings.Cut(text, "\n"); ok && strings.HasPrefix(first, "# Source: ") {
			source = strings.TrimPrefix(first, "# Source: ")
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(text), &tm); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
		if gvk == kafkaTopicGVK {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
				return nil, fmt.Errorf("%s: decode %s: %w", source, tm.Kind, err)
			}
			if u.GetName() == "" || u.GetLabels()["app.kubernetes.io/name"] == "" {
				return nil, fmt.Errorf("%s: %s without a name or an app.kubernetes.io/name label", source, tm.Kind)
			}
			if _, dup := r.kafkaTopics[u.GetName()]; dup {
				return nil, fmt.Errorf("%s: two KafkaTopics named %s", source, u.GetName())
			}
			r.kafkaTopics[u.GetName()] = u
			r.docs = append(r.docs, doc{source: source, text: text, obj: u})
			continue
		}
		newObj, ok := kinds[gvk]
		if !ok {
			return nil, fmt.Errorf("%s: unexpected kind %s %s", source, tm.APIVersion, tm.Kind)
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict([]byte(text), obj); err != nil {
			return nil, fmt.Errorf("%s: strict decode %s: %w", source, tm.Kind, err)
		}
		name := obj.GetLabels()["app.kubernetes.io/name"]
		if name == "" {
			return nil, fmt.Errorf("%s: %s %s has no app.kubernetes.io/name label", source, tm.Kind, obj.GetName())
		}
		var err error
		switch o := obj.(type) {
		case *appsv1.Deployment:
			err = put(r.deployments, name, o)
		case *corev1.Service:
			err = put(r.services, name, o)
		case *corev1.ServiceAccount:
			err = put(r.serviceAccounts, name, o)
		case *corev1.ConfigMap:
			err = put(r.configMaps, name, o)
		case *policyv1.PodDisruptionBudget:
			err = put(r.pdbs, name, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			err = put(r.hpas, name, o)
		case *networkingv1.NetworkPolicy:
			err = put(r.netpols, name, o)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		r.docs = append(r.docs, doc{source: source, text: text, obj: obj})
	}
	return r, nil
}

func put[T object](m map[string]T, name string, o T) error {
	if _, dup := m[name]; dup {
		return fmt.Errorf("two %T objects for %s", o, name)
	}
	m[name] = o
	return nil
}

// docsOf returns the manifests labelled app.kubernetes.io/name=name.
func (r *rendered) docsOf(name string) []doc {
	var out []doc
	for _, d := range r.docs {
		if d.obj.GetLabels()["app.kubernetes.io/name"] == name {
			out = append(out, d)
		}
	}
	return out
}
