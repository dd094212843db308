package main

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// workload is a StatefulSet's or Deployment's pod template with what refers to it.
type workload struct {
	object
	selector *metav1.LabelSelector
	pod      corev1.PodTemplateSpec
	claims   map[string]bool // volumeClaimTemplates: volumes the pods get besides spec.volumes
}

// checker collects what the decode cannot see: references between objects and to the
// auditor binary's options. Every problem is an error; counts are for the summary.
type checker struct {
	mu         sync.Mutex // runContainers' goroutines report through fail and counts
	objects    []object
	workloads  []workload
	services   map[string]*corev1.Service
	valueText  map[string]bool // every string in the values files given
	options    *optionSets
	errors     []string
	counts     map[string]int
	referenced map[string]bool
}

func (c *checker) fail(o object, format string, args ...any) {
	c.errors = append(c.errors, o.String()+": "+fmt.Sprintf(format, args...))
}

func (c *checker) run() {
	c.services = map[string]*corev1.Service{}
	for _, o := range c.objects {
		switch v := o.value.(type) {
		case *appsv1.StatefulSet:
			claims := map[string]bool{}
			for _, t := range v.Spec.VolumeClaimTemplates {
				claims[t.Name] = true
			}
			c.workloads = append(c.workloads, workload{o, v.Spec.Selector, v.Spec.Template, claims})
		case *appsv1.Deployment:
			c.workloads = append(c.workloads, workload{o, v.Spec.Selector, v.Spec.Template, nil})
		case *corev1.Service:
			c.services[v.Name] = v
		}
	}
	for _, w := range c.workloads {
		c.checkWorkload(w)
	}
	for _, o := range c.objects {
		c.checkName(o)
		switch v := o.value.(type) {
		case *appsv1.StatefulSet:
			c.checkServiceName(o, v)
		case *corev1.Service:
			c.checkService(o, v)
		case *policyv1.PodDisruptionBudget:
			if len(c.selected(o, v.Spec.Selector)) == 0 {
				c.fail(o, "selector matches no rendered pod template")
			}
			c.counts["selectors"]++
		case *autoscalingv2.HorizontalPodAutoscaler:
			c.checkScaleTarget(o, v)
		}
	}
}

// selected lists the workloads whose pod labels the selector matches.
func (c *checker) selected(o object, selector *metav1.LabelSelector) []workload {
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		c.fail(o, "bad selector: %v", err)
		return nil
	}
	if s.Empty() {
		c.fail(o, "empty selector selects every pod of the namespace")
		return nil
	}
	var out []workload
	for _, w := range c.workloads {
		if s.Matches(labels.Set(w.pod.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func (c *checker) checkWorkload(w workload) {
	if s, err := metav1.LabelSelectorAsSelector(w.selector); err != nil || s.Empty() ||
		!s.Matches(labels.Set(w.pod.Labels)) {
		c.fail(w.object, "spec.selector does not match the pod template's labels %v", w.pod.Labels)
	}
	c.counts["selectors"]++
	spec := w.pod.Spec
	volumes := map[string]bool{}
	for name := range w.claims {
		volumes[name] = true
	}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		if v.Secret != nil {
			c.checkReference(w.object, "Secret", v.Secret.SecretName)
		}
		if v.ConfigMap != nil {
			c.checkReference(w.object, "ConfigMap", v.ConfigMap.Name)
		}
	}
	if port, ok := w.pod.Annotations["prometheus.io/port"]; ok {
		if !hasPort(spec.Containers, intstr.Parse(port)) {
			c.fail(w.object, "prometheus.io/port %s is no container port", port)
		}
		c.counts["ports"]++
	}
	for _, ct := range spec.Containers {
		for _, m := range ct.VolumeMounts {
			if !volumes[m.Name] {
				c.fail(w.object, "container %s mounts volume %q, which the pod does not have", ct.Name, m.Name)
			}
			c.counts["volume mounts"]++
		}
		for name, p := range map[string]*corev1.Probe{"readiness": ct.ReadinessProbe, "liveness": ct.LivenessProbe, "startup": ct.StartupProbe} {
			if p == nil {
				continue
			}
			var port *intstr.IntOrString
			switch {
			case p.HTTPGet != nil:
				port = &p.HTTPGet.Port
			case p.TCPSocket != nil:
				port = &p.TCPSocket.Port
			}
			if port != nil && !hasPort([]corev1.Container{ct}, *port) {
				c.fail(w.object, "container %s: %s probe on port %s, which the container does not declare", ct.Name, name, port.String())
			}
			c.counts["probes"]++
		}
		c.checkContainer(w.object, ct)
	}
}

// Kubernetes leaves $(NAME) unexpanded when NAME is not defined before its use.
var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func (c *checker) checkContainer(o object, ct corev1.Container) {
	if len(ct.Args) == 0 {
		c.fail(o, "container %s: no args (the auditor command comes first)", ct.Name)
		return
	}
	command := ct.Args[0]
	defined := map[string]bool{}
	for _, e := range ct.Env {
		for _, ref := range varRef.FindAllStringSubmatch(e.Value, -1) {
			if !defined[ref[1]] {
				c.fail(o, "container %s: %s refers to $(%s), which is not defined before it", ct.Name, e.Name, ref[1])
			}
		}
		defined[e.Name] = true
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			c.checkReference(o, "Secret", e.ValueFrom.SecretKeyRef.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			c.checkReference(o, "ConfigMap", e.ValueFrom.ConfigMapKeyRef.Name)
		}
		if option, ok := envOption(e.Name); ok {
			if e.Value == "" && e.ValueFrom == nil {
				c.fail(o, "container %s: %s is empty (a value missing from the values?)", ct.Name, e.Name)
			}
			c.checkOption(o, ct.Name, command, option, "environment variable "+e.Name)
			c.counts["AUDITOR_* variables"]++
		}
		if e.Name == "AUDITOR_MEMORY" {
			c.checkMemoryLimit(o, ct, e.Value)
		}
	}
	for i, arg := range ct.Args[1:] {
		for _, ref := range varRef.FindAllStringSubmatch(arg, -1) {
			if !defined[ref[1]] {
				c.fail(o, "container %s: argument %q refers to $(%s), which is not defined", ct.Name, arg, ref[1])
			}
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !strings.HasPrefix(arg, "--") {
			continue
		}
		c.counts["options in args"]++
		c.checkOption(o, ct.Name, command, name, "argument "+arg)
		if !hasValue && i+2 < len(ct.Args) {
			value = ct.Args[i+2]
		}
		property := strings.SplitN(value, "=", 2)[0]
		if isSecret(name) {
			c.fail(o, "container %s: --%s puts a secret on the command line (auditor refuses it): use a Secret reference", ct.Name, name)
		} else if name == "kafka" && isSecret(property) {
			c.fail(o, "container %s: --kafka %s puts a secret on the command line (auditor refuses it): use a Secret reference", ct.Name, property)
		}
		if name == "port" || name == "http-port" {
			if port, err := strconv.Atoi(value); err != nil || !hasPort([]corev1.Container{ct}, intstr.FromInt32(int32(port))) {
				c.fail(o, "container %s: --%s %s is not a declared container port", ct.Name, name, value)
			}
		}
	}
}

// auditor's sizes (--memory): a whole number of bytes or with KiB, MiB or GiB.
var auditorSize = regexp.MustCompile(`^([0-9]+)(B|KiB|MiB|GiB)?$`)

// The worker keeps its memory within --memory (AUDITOR_MEMORY, README "Sizing"); a
// container limit below it gets the pod OOM-killed once its caches fill, long after it
// started fine. A value auditor refuses is left to the start check (runcheck.go).
func (c *checker) checkMemoryLimit(o object, ct corev1.Container, value string) {
	m := auditorSize.FindStringSubmatch(value)
	if m == nil {
		return
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return
	}
	scale := map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[2]]
	limit := ct.Resources.Limits.Memory()
	if limit.IsZero() {
		c.fail(o, "container %s: AUDITOR_MEMORY %s but no memory limit", ct.Name, value)
	} else if n > limit.Value()/scale {
		c.fail(o, "container %s: AUDITOR_MEMORY %s is above the container's memory limit %s", ct.Name, value, limit.String())
	}
	c.counts["memory limits"]++
}

func (c *checker) checkOption(o object, container, command, option, where string) {
	ok, err := c.options.check(command, option)
	if err != nil {
		c.fail(o, "container %s: %v", container, err)
	} else if !ok {
		c.fail(o, "container %s: %s: `auditor %s --help` has no option --%s", container, where, command, option)
	}
}

// checkReference insists that a Secret or ConfigMap the chart refers to is named in the
// values, i.e. that the chart invents no names of objects it does not create.
func (c *checker) checkReference(o object, kind, name string) {
	c.counts[kind+" references"]++
	c.referenced[kind+"/"+name] = true
	if !c.valueText[name] {
		c.fail(o, "%s %q is not named in the values", kind, name)
	}
}

// checkName applies the API server's name rules, which a decode does not: a Service's
// name is a DNS label (63 characters), others DNS subdomains; a StatefulSet's name must
// leave room for "-<10-character hash>" in its pods' controller-revision-hash label.
func (c *checker) checkName(o object) {
	var problems []string
	switch o.value.(type) {
	case *corev1.Service:
		problems = validation.IsDNS1035Label(o.name)
	case *appsv1.StatefulSet:
		problems = validation.IsDNS1123Label(o.name + "-0123456789")
	default:
		problems = validation.IsDNS1123Subdomain(o.name)
	}
	for _, p := range problems {
		c.fail(o, "name %q: %s", o.name, p)
	}
	c.counts["names"]++
}

func (c *checker) checkServiceName(o object, s *appsv1.StatefulSet) {
	svc, ok := c.services[s.Spec.ServiceName]
	switch {
	case !ok:
		c.fail(o, "serviceName %q is not a rendered Service", s.Spec.ServiceName)
	case svc.Spec.ClusterIP != corev1.ClusterIPNone:
		c.fail(o, "serviceName %q is not headless (clusterIP: None)", s.Spec.ServiceName)
	case !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(s.Spec.Template.Labels)):
		c.fail(o, "serviceName %q does not select the set's pods", s.Spec.ServiceName)
	}
}

func (c *checker) checkService(o object, s *corev1.Service) {
	c.counts["selectors"]++
	if len(s.Spec.Selector) == 0 {
		c.fail(o, "no selector")
		return
	}
	var selected []workload
	for _, w := range c.workloads {
		if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.pod.Labels)) {
			selected = append(selected, w)
		}
	}
	if len(selected) == 0 {
		c.fail(o, "selector %v matches no rendered pod template", s.Spec.Selector)
	}
	for _, p := range s.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, w := range selected {
			if !hasPort(w.pod.Spec.Containers, target) {
				c.fail(o, "port %s: targetPort %s is not a container port of %s", p.Name, target.String(), w.object)
			}
		}
		c.counts["ports"]++
	}
}

func (c *checker) checkScaleTarget(o object, h *autoscalingv2.HorizontalPodAutoscaler) {
	ref := h.Spec.ScaleTargetRef
	for _, w := range c.workloads {
		if w.kind == ref.Kind && w.name == ref.Name {
			if d, ok := w.value.(*appsv1.Deployment); ok && d.Spec.Replicas != nil {
				c.fail(o, "%s sets replicas, which would fight the autoscaler on every upgrade", w.object)
			}
			// A utilization target is a share of the request: without one the HPA does nothing.
			for _, m := range h.Spec.Metrics {
				if m.Resource == nil {
					continue
				}
				for _, ct := range w.pod.Spec.Containers {
					if _, ok := ct.Resources.Requests[m.Resource.Name]; !ok {
						c.fail(o, "scales on %s, but container %s of %s requests no %s", m.Resource.Name, ct.Name, w.object, m.Resource.Name)
					}
				}
			}
			return
		}
	}
	c.fail(o, "scaleTargetRef %s/%s is not rendered", ref.Kind, ref.Name)
}

func hasPort(containers []corev1.Container, port intstr.IntOrString) bool {
	for _, ct := range containers {
		for _, p := range ct.Ports {
			if (port.Type == intstr.String && p.Name == port.StrVal) ||
				(port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
				return true
			}
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
