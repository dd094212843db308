package main

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// object is one rendered document decoded into its Kubernetes API type.
type object struct {
	source string // helm's "# Source: <template>" line, for messages
	kind   string
	name   string
	value  any // *appsv1.StatefulSet, *corev1.Service, ...
}

func (o object) String() string { return o.kind + "/" + o.name + " (" + o.source + ")" }

// The kinds the chart may render, each with its Go type. Anything else is an error: a
// typo in apiVersion or kind would otherwise go unchecked.
var kinds = map[string]func() any{
	"apps/v1/StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
}

// splitDocuments cuts a multi-document YAML stream at its "---" lines; documents with
// nothing but comments and blank lines are dropped.
func splitDocuments(stream []byte) [][]byte {
	var docs [][]byte
	var current bytes.Buffer
	flush := func() {
		if hasContent(current.Bytes()) {
			docs = append(docs, append([]byte(nil), current.Bytes()...))
		}
		current.Reset()
	}
	scanner := bufio.NewScanner(bytes.NewReader(stream))
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") {
			flush()
			continue
		}
		current.WriteString(line)
		current.WriteByte('\n')
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			return true
		}
	}
	return false
}

func sourceOf(doc []byte) string {
	for _, line := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(line, "# Source: "); ok {
			return rest
		}
	}
	return "unknown template"
}

// decode turns one document into its API type, strictly: an unknown field, a duplicate
// key or a value of the wrong type is an error, as the API server's strict field
// validation would report it (and as `kubectl apply` would otherwise drop it silently).
func decode(doc []byte) (object, error) {
	o := object{source: sourceOf(doc)}
	var meta struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return o, fmt.Errorf("%s: not YAML: %v", o.source, err)
	}
	o.kind, o.name = meta.Kind, meta.Metadata.Name
	newValue, ok := kinds[meta.APIVersion+"/"+meta.Kind]
	if !ok {
		return o, fmt.Errorf("%s: unknown kind %q in apiVersion %q", o.source, meta.Kind, meta.APIVersion)
	}
	o.value = newValue()
	if err := yaml.UnmarshalStrict(doc, o.value); err != nil {
		return o, fmt.Errorf("%s: %v", o, err)
	}
	if o.name == "" {
		return o, fmt.Errorf("%s: no metadata.name", o)
	}
	return o, nil
}
