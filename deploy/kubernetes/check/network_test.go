package check

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestCallGraph: each program is told the addresses of exactly the
// services callGraph says it calls, and those services' NetworkPolicies
// admit its calls: each service's gRPC port admits exactly its callers,
// its admin port only the monitoring namespace and the backup job, and
// each caller's policy lets it out to each service it calls. A default
// deny covers the rest.
func TestCallGraph(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, objs *Objects) {
		checkDefaultDeny(t, objs.NetworkPolicies)
		for name, p := range pods(objs) {
			if name == "socmgmt-backup" {
				continue
			}
			if got := dialled(p.Spec.Containers[0]); !slices.Equal(got, callGraph[name]) {
				t.Errorf("%s dials %v, want %v", name, got, callGraph[name])
			}
		}
		callers := map[string][]string{}
		for caller, callees := range callGraph {
			for _, callee := range callees {
				callers[callee] = append(callers[callee], caller)
				if !egressTo(policyOf(t, objs, caller), callee, services[callee].grpc) {
					t.Errorf("%s's NetworkPolicy does not let it call %s on %d", caller, callee, services[callee].grpc)
				}
			}
		}
		for name, ports := range services {
			pol := policyOf(t, objs, name)
			slices.Sort(callers[name])
			if got := admitted(pol, ports.grpc); !slices.Equal(got, callers[name]) {
				t.Errorf("%s's gRPC port admits %v, want its callers %v", name, got, callers[name])
			}
			if got := admitted(pol, ports.admin); !slices.Equal(got, []string{"namespace monitoring", "socmgmt-backup"}) {
				t.Errorf("%s's admin port admits %v, want the monitoring namespace and the backup job", name, got)
			}
		}
	})
}

// dialled returns the services whose addresses c is given
// (<PROGRAM>_<SERVICE>_ADDR), sorted.
func dialled(c corev1.Container) []string {
	var out []string
	for _, e := range c.Env {
		for name := range services {
			if strings.HasSuffix(e.Name, "_"+strings.ToUpper(name)+"_ADDR") {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

func checkDefaultDeny(t *testing.T, pols []networkingv1.NetworkPolicy) {
	t.Helper()
	for _, p := range pols {
		if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 &&
			len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 && len(p.Spec.PolicyTypes) == 2 {
			return
		}
	}
	t.Error("no default-deny NetworkPolicy (every pod, ingress and egress, no rule)")
}

// policyOf returns the NetworkPolicy that selects the pods of name.
func policyOf(t *testing.T, objs *Objects, name string) networkingv1.NetworkPolicy {
	t.Helper()
	for _, p := range objs.NetworkPolicies {
		if p.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] == name {
			return p
		}
	}
	t.Fatalf("no NetworkPolicy selects %s", name)
	return networkingv1.NetworkPolicy{}
}

// admitted returns who pol admits on port: pods by name, namespaces as
// "namespace NAME", "anyone" for a rule without peers; sorted.
func admitted(pol networkingv1.NetworkPolicy, port int32) []string {
	var out []string
	for _, rule := range pol.Spec.Ingress {
		if !hasPort(rule.Ports, port) {
			continue
		}
		if len(rule.From) == 0 {
			out = append(out, "anyone")
		}
		for _, peer := range rule.From {
			out = append(out, describePeer(peer))
		}
	}
	slices.Sort(out)
	return out
}

func describePeer(p networkingv1.NetworkPolicyPeer) string {
	switch {
	case p.IPBlock != nil:
		return "ipBlock " + p.IPBlock.CIDR
	case p.NamespaceSelector != nil && p.PodSelector == nil:
		return "namespace " + p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
	case p.PodSelector != nil && p.NamespaceSelector == nil:
		return p.PodSelector.MatchLabels["app.kubernetes.io/name"]
	}
	return fmt.Sprintf("%+v", p)
}

// egressTo reports whether pol lets its pods out to the pods of name on
// port.
func egressTo(pol networkingv1.NetworkPolicy, name string, port int32) bool {
	for _, rule := range pol.Spec.Egress {
		if !hasPort(rule.Ports, port) {
			continue
		}
		for _, peer := range rule.To {
			if describePeer(peer) == name {
				return true
			}
		}
	}
	return false
}

func hasPort(ports []networkingv1.NetworkPolicyPort, port int32) bool {
	return slices.ContainsFunc(ports, func(p networkingv1.NetworkPolicyPort) bool {
		return p.Port != nil && p.Port.IntValue() == int(port)
	})
}

// TestOnlyTheGatewayIsExposed: no Service but the gateway's is a
// NodePort or LoadBalancer, every Ingress leads to the gateway alone,
// and the only NetworkPolicy rule that admits anyone is the gateway's
// REST port.
func TestOnlyTheGatewayIsExposed(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, objs *Objects) {
		for _, s := range objs.Services {
			if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP && s.Name != "gateway" {
				t.Errorf("Service %s is of type %s; only the gateway may be reached from outside", s.Name, s.Spec.Type)
			}
		}
		for _, in := range objs.Ingresses {
			for _, r := range in.Spec.Rules {
				for _, p := range r.HTTP.Paths {
					if p.Backend.Service == nil || p.Backend.Service.Name != "gateway" {
						t.Errorf("Ingress %s leads to %+v, want the gateway", in.Name, p.Backend)
					}
				}
			}
		}
		for _, pol := range objs.NetworkPolicies {
			for _, rule := range pol.Spec.Ingress {
				open := len(rule.From) == 0 || slices.ContainsFunc(rule.From, func(p networkingv1.NetworkPolicyPeer) bool { return p.IPBlock != nil })
				if open && (pol.Name != "gateway" || !hasPort(rule.Ports, 8080) || len(rule.Ports) != 1) {
					t.Errorf("NetworkPolicy %s admits anyone on %+v; only the gateway's REST port may", pol.Name, rule.Ports)
				}
			}
		}
	})
}

// TestBackupJob: one CronJob, never two runs at once and never retried,
// backs up every
// service side by side (a container each, none waiting for another)
// into its directory, keeping a bounded number of copies.
func TestBackupJob(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, objs *Objects) {
		if len(objs.CronJobs) != 1 {
			t.Fatalf("%d CronJobs, want the backup", len(objs.CronJobs))
		}
		cj := objs.CronJobs[0]
		if cj.Spec.ConcurrencyPolicy != "Forbid" {
			t.Errorf("backup concurrency policy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
		}
		if b := cj.Spec.JobTemplate.Spec.BackoffLimit; b == nil || *b != 0 {
			t.Errorf("backup backoffLimit %v, want 0: a retry copies every service again", b)
		}
		spec := cj.Spec.JobTemplate.Spec.Template.Spec
		if len(spec.InitContainers) != 0 {
			t.Errorf("backup has init containers %d: one service's failure would stop the others' copies", len(spec.InitContainers))
		}
		backedUp := map[string]bool{}
		for _, c := range spec.Containers {
			args := map[string]string{}
			for _, a := range c.Args[1:] {
				k, v, _ := strings.Cut(a, "=")
				args[k] = v
			}
			if c.Args[0] != "backup" || args["--out-dir"] == "" || args["--keep"] == "" || args["--tls-cert"] == "" {
				t.Errorf("backup container %s: args %v, want backup --out-dir --keep over TLS", c.Name, c.Args)
			}
			svc := args["--service"]
			if want := fmt.Sprintf("%s:%d", svc, services[svc].admin); args["--addr"] != want {
				t.Errorf("backup of %s from %q, want its admin port %s", svc, args["--addr"], want)
			}
			backedUp[svc] = true
		}
		if got, want := slices.Sorted(maps.Keys(backedUp)), slices.Sorted(maps.Keys(services)); !slices.Equal(got, want) {
			t.Errorf("the backup covers %v, want every service %v", got, want)
		}
	})
}
