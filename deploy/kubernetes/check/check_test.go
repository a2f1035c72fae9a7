package check

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// overlays are the kustomizations an operator applies.
var overlays = []string{"dev", "production"}

// services are the StatefulSets, with their gRPC and admin ports.
var services = map[string]struct{ grpc, admin int32 }{
	"registry": {9101, 9201},
	"handover": {9102, 9202},
	"pension":  {9103, 9203},
	"activity": {9104, 9204},
	"casework": {9105, 9205},
}

// callGraph is who calls whom over gRPC, as scripts/devrun/stack.go
// wires the stack (each service's upstreams) and the gateway, which
// serves the REST routes of all five. Every service also reads
// registry's revocation list.
var callGraph = map[string][]string{
	"gateway":  {"activity", "casework", "handover", "pension", "registry"},
	"handover": {"activity", "registry"},
	"pension":  {"registry"},
	"activity": {"registry"},
	"casework": {"activity", "handover", "pension", "registry"},
}

// render renders overlay, failing t on any error: a kustomize error or
// a field that does not decode strictly.
func render(t *testing.T, overlay string) *Objects {
	t.Helper()
	objs, err := Render(filepath.Join("..", "overlays", overlay))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// forEachOverlay runs check on every overlay's objects, each overlay a
// parallel subtest of its own.
func forEachOverlay(t *testing.T, check func(t *testing.T, objs *Objects)) {
	t.Helper()
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			t.Parallel()
			check(t, render(t, overlay))
		})
	}
}

// TestDecodeIsStrict: a misspelt field, or one given twice, is an error;
// without this the checks below would pass on manifests the API server
// reads differently.
func TestDecodeIsStrict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml string }{
		{"misspelt field", "apiVersion: apps/v1\nkind: StatefulSet\nspec:\n  replica: 1\n"},
		{"field in the wrong place", "apiVersion: apps/v1\nkind: StatefulSet\nspec:\n  template:\n    spec:\n      runAsUser: 65532\n"},
		{"duplicated field", "apiVersion: apps/v1\nkind: StatefulSet\nspec:\n  replicas: 1\n  replicas: 2\n"},
	} {
		var s appsv1.StatefulSet
		if err := Decode([]byte(tc.yaml), &s); err == nil {
			t.Errorf("%s: decoded without an error", tc.name)
		}
	}
	var s appsv1.StatefulSet
	if err := Decode([]byte("apiVersion: apps/v1\nkind: StatefulSet\nspec:\n  replicas: 1\n"), &s); err != nil || *s.Spec.Replicas != 1 {
		t.Errorf("a correct StatefulSet: %v, replicas %v", err, s.Spec.Replicas)
	}
	if err := (&Objects{}).add("Pod", []byte("apiVersion: v1\nkind: Pod\n")); err == nil {
		t.Error("a kind the check does not know was accepted")
	}
}

// TestStatefulSets: each service is one StatefulSet of one replica with
// its own volume, updated only when an operator deletes its pod, a
// PodDisruptionBudget that lets no voluntary eviction take it,
// a headless Service for the set and a ClusterIP Service for its peers.
func TestStatefulSets(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, objs *Objects) {
		var names []string
		for _, s := range objs.StatefulSets {
			names = append(names, s.Name)
			if s.Spec.Replicas == nil || *s.Spec.Replicas != 1 {
				t.Errorf("StatefulSet %s: replicas %v, want 1 (one writer per bbolt file)", s.Name, s.Spec.Replicas)
			}
			if u := s.Spec.UpdateStrategy.Type; u != appsv1.OnDeleteStatefulSetStrategyType {
				t.Errorf("StatefulSet %s: update strategy %q, want OnDelete (nothing restarts a service by itself)", s.Name, u)
			}
			if len(s.Spec.VolumeClaimTemplates) != 1 {
				t.Errorf("StatefulSet %s: %d volume claim templates, want its own volume", s.Name, len(s.Spec.VolumeClaimTemplates))
			}
			checkBudget(t, objs, s)
			checkServices(t, objs, s)
		}
		slices.Sort(names)
		if want := []string{"activity", "casework", "handover", "pension", "registry"}; !slices.Equal(names, want) {
			t.Errorf("StatefulSets %v, want %v", names, want)
		}
	})
}

// checkBudget fails t unless a PodDisruptionBudget selects s's pod and
// allows no voluntary disruption of it.
func checkBudget(t *testing.T, objs *Objects, s appsv1.StatefulSet) {
	t.Helper()
	for _, b := range objs.Budgets {
		if b.Spec.Selector == nil || !selects(b.Spec.Selector.MatchLabels, s.Spec.Template.Labels) {
			continue
		}
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		if (b.Spec.MaxUnavailable != nil && *b.Spec.MaxUnavailable == zero) || (b.Spec.MinAvailable != nil && *b.Spec.MinAvailable == one) {
			return
		}
		t.Errorf("PodDisruptionBudget %s of %s allows a disruption: %+v", b.Name, s.Name, b.Spec)
		return
	}
	t.Errorf("StatefulSet %s: no PodDisruptionBudget", s.Name)
}

// checkServices fails t unless s has its headless Service and a
// ClusterIP Service of its name, both selecting its pod.
func checkServices(t *testing.T, objs *Objects, s appsv1.StatefulSet) {
	t.Helper()
	headless, clusterIP := false, false
	for _, svc := range objs.Services {
		if !selects(svc.Spec.Selector, s.Spec.Template.Labels) {
			continue
		}
		headless = headless || (svc.Name == s.Spec.ServiceName && svc.Spec.ClusterIP == corev1.ClusterIPNone)
		clusterIP = clusterIP || (svc.Name == s.Name && svc.Spec.Type == corev1.ServiceTypeClusterIP && svc.Spec.ClusterIP == "")
	}
	if !headless || !clusterIP {
		t.Errorf("StatefulSet %s: headless Service %q %v, ClusterIP Service %v", s.Name, s.Spec.ServiceName, headless, clusterIP)
	}
}

// selects reports whether a selector of labels sel matches labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// pods are the pod templates of objs by the workload's name, the
// backup's included.
func pods(objs *Objects) map[string]corev1.PodTemplateSpec {
	out := map[string]corev1.PodTemplateSpec{}
	for _, s := range objs.StatefulSets {
		out[s.Name] = s.Spec.Template
	}
	for _, d := range objs.Deployments {
		out[d.Name] = d.Spec.Template
	}
	for _, c := range objs.CronJobs {
		out[c.Name] = c.Spec.JobTemplate.Spec.Template
	}
	return out
}

// TestContainers: every pod runs as the images' user with a restricted
// security context and no service account token; every container has
// resources with a memory limit and a pinned image; every long-running
// one has probes and a GOMEMLIMIT below its memory limit.
func TestContainers(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, objs *Objects) {
		for name, p := range pods(objs) {
			checkPod(t, name, p.Spec)
			for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
				checkContainer(t, name, c, name != "socmgmt-backup")
			}
		}
	})
}

func checkPod(t *testing.T, name string, p corev1.PodSpec) {
	t.Helper()
	sc := p.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 ||
		sc.FSGroup == nil || *sc.FSGroup != 65532 || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v, want non-root 65532, fsGroup 65532, seccomp RuntimeDefault", name, sc)
	}
	if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
		t.Errorf("%s: the service account token is mounted; no program calls the Kubernetes API", name)
	}
	for _, v := range p.Volumes {
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o037 != 0) {
			t.Errorf("%s: Secret volume %s has mode %v, want 0440 or tighter", name, v.Name, v.Secret.DefaultMode)
		}
	}
}

var goodImage = regexp.MustCompile(`^[a-z0-9./-]+/[a-z0-9-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$`)

func checkContainer(t *testing.T, pod string, c corev1.Container, longRunning bool) {
	t.Helper()
	where := pod + "/" + c.Name
	if !goodImage.MatchString(c.Image) || strings.HasSuffix(c.Image, ":latest") {
		t.Errorf("%s: image %q, want a pinned tag (not latest) or digest", where, c.Image)
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil ||
		!*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("%s: security context %+v", where, sc)
	}
	r := c.Resources
	limit, hasLimit := r.Limits[corev1.ResourceMemory]
	if _, ok := r.Requests[corev1.ResourceMemory]; !ok || !hasLimit || r.Requests.Cpu().IsZero() {
		t.Errorf("%s: resources %+v, want CPU and memory requests and a memory limit", where, r)
	}
	if !longRunning {
		return
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Errorf("%s: readiness probe %v, liveness probe %v", where, c.ReadinessProbe != nil, c.LivenessProbe != nil)
	}
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" })
	if i < 0 {
		t.Errorf("%s: no GOMEMLIMIT", where)
		return
	}
	if got := goMemLimit(t, c.Env[i].Value); got <= 0 || got >= limit.Value() {
		t.Errorf("%s: GOMEMLIMIT %s, want below the memory limit %s", where, c.Env[i].Value, limit.String())
	}
}

// goMemLimit parses a GOMEMLIMIT of the MiB or GiB form used here.
func goMemLimit(t *testing.T, v string) int64 {
	t.Helper()
	var n int64
	var unit string
	for i, r := range v {
		if r < '0' || r > '9' {
			unit = v[i:]
			break
		}
		n = n*10 + int64(r-'0')
	}
	switch unit {
	case "MiB":
		return n << 20
	case "GiB":
		return n << 30
	}
	t.Errorf("GOMEMLIMIT %q: want a number of MiB or GiB", v)
	return 0
}

// TestSecrets: every Secret a pod or an Ingress names is made by the
// overlay or named in deploy/kubernetes/README.md, where the operator
// is told how to make it.
func TestSecrets(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	forEachOverlay(t, func(t *testing.T, objs *Objects) {
		made := map[string]bool{}
		for _, s := range objs.Secrets {
			made[s.Name] = true
		}
		var named []string
		for _, p := range pods(objs) {
			for _, v := range p.Spec.Volumes {
				if v.Secret != nil {
					named = append(named, v.Secret.SecretName)
				}
			}
		}
		for _, in := range objs.Ingresses {
			for _, tls := range in.Spec.TLS {
				named = append(named, tls.SecretName)
			}
		}
		for _, name := range named {
			if !made[name] && !strings.Contains(string(readme), "`"+name+"`") {
				t.Errorf("Secret %s is neither made by the overlay nor documented in deploy/kubernetes/README.md", name)
			}
		}
	})
}
