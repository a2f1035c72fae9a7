// Package check renders the kustomize overlays of deploy/kubernetes and
// decodes every object they produce strictly into the Kubernetes API
// types, so that a misspelt or misplaced field fails the build instead
// of being dropped by the API server. Its tests (run by `make test`)
// hold the deployment's invariants: one replica and a disruption budget
// per StatefulSet, probes, resources and a restricted security context
// on every container, NetworkPolicies that follow the call graph, and a
// backup of every service.
//
// It is a module of its own so that kustomize and the API types stay out
// of the programs' go.mod.
package check

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Objects are the decoded objects of one rendered overlay, by kind.
type Objects struct {
	Namespaces      []corev1.Namespace
	StatefulSets    []appsv1.StatefulSet
	Deployments     []appsv1.Deployment
	CronJobs        []batchv1.CronJob
	Services        []corev1.Service
	ConfigMaps      []corev1.ConfigMap
	Claims          []corev1.PersistentVolumeClaim
	Budgets         []policyv1.PodDisruptionBudget
	NetworkPolicies []networkingv1.NetworkPolicy
	Ingresses       []networkingv1.Ingress
	Secrets         []corev1.Secret
}

// Render builds the kustomization in dir, as `kubectl apply -k dir`
// would, and decodes each object strictly into its API type. An object
// of a kind this package does not know is an error: add the kind here
// when the manifests gain one.
func Render(dir string) (*Objects, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	var objs Objects
	for _, r := range resources.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		if err := objs.add(r.GetKind(), data); err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err)
		}
	}
	return &objs, nil
}

// add decodes data, an object of kind, strictly and files it.
func (o *Objects) add(kind string, data []byte) error {
	switch kind {
	case "Namespace":
		return decodeInto(data, &o.Namespaces)
	case "StatefulSet":
		return decodeInto(data, &o.StatefulSets)
	case "Deployment":
		return decodeInto(data, &o.Deployments)
	case "CronJob":
		return decodeInto(data, &o.CronJobs)
	case "Service":
		return decodeInto(data, &o.Services)
	case "ConfigMap":
		return decodeInto(data, &o.ConfigMaps)
	case "PersistentVolumeClaim":
		return decodeInto(data, &o.Claims)
	case "PodDisruptionBudget":
		return decodeInto(data, &o.Budgets)
	case "NetworkPolicy":
		return decodeInto(data, &o.NetworkPolicies)
	case "Ingress":
		return decodeInto(data, &o.Ingresses)
	case "Secret":
		return decodeInto(data, &o.Secrets)
	}
	return fmt.Errorf("kind %q is not one this check decodes", kind)
}

// decodeInto decodes data strictly (an unknown or duplicated field is an
// error) and appends it to list.
func decodeInto[T any](data []byte, list *[]T) error {
	var v T
	if err := Decode(data, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// Decode decodes the YAML object data into v, refusing a field v's type
// does not have and a field given twice.
func Decode(data []byte, v any) error {
	return yaml.UnmarshalStrict(data, v)
}
