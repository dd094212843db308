package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestSplitDocumentsDropsCommentOnlyDocuments(t *testing.T) {
	stream := "---\n# Source: a.yaml\nkind: Service\n---\n# Source: empty.yaml\n\n--- \nkind: Deployment\n"
	docs := splitDocuments([]byte(stream))
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2: %q", len(docs), docs)
	}
	if sourceOf(docs[0]) != "a.yaml" || !strings.Contains(string(docs[1]), "kind: Deployment") {
		t.Fatalf("unexpected documents: %q", docs)
	}
}

func TestDecodeIsStrict(t *testing.T) {
	ok := "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  clusterIP: None\n"
	if _, err := decode([]byte(ok)); err != nil {
		t.Fatalf("valid Service rejected: %v", err)
	}
	for name, doc := range map[string]string{
		"unknown field":   ok + "  clusterIPs2: []\n",
		"duplicate field": ok + "  clusterIP: None\n",
		"wrong type":      "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: 80\n",
		"unknown kind":    "apiVersion: v1\nkind: Servic\nmetadata:\n  name: s\n",
		"no name":         "apiVersion: v1\nkind: Service\nmetadata: {}\n",
	} {
		if _, err := decode([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEnvOptionFollowsAuditorsMapping(t *testing.T) {
	for env, want := range map[string]string{
		"AUDITOR_GRACE":               "grace",
		"AUDITOR_KAFKA_SASL_PASSWORD": "kafka-sasl-password",
		"AUDITOR_ADVERTISED_HTTP":     "advertised-http",
	} {
		if got, ok := envOption(env); !ok || got != want {
			t.Errorf("envOption(%s) = %q, %v; want %q", env, got, ok, want)
		}
	}
	if _, ok := envOption("POD_NAME"); ok {
		t.Error("POD_NAME taken for an auditor option")
	}
}

func TestIsSecretMatchesAuditorsRule(t *testing.T) {
	for key, want := range map[string]bool{
		"kafka-sasl-password":      true,
		"kafka-sasl-password-file": false, // names where the secret is
		"sasl.password":            true,
		"ssl.key.password":         true,
		"sasl.jaas.config":         true,
		"ssl.ca.location":          false,
		"client.rack":              false,
	} {
		if isSecret(key) != want {
			t.Errorf("isSecret(%s) = %v, want %v", key, !want, want)
		}
	}
}

func TestConfigOrigin(t *testing.T) {
	log := "2026-12-01T09:38:22.665Z info  [worker] config: grace = 30s (AUDITOR_GRACE)\n" +
		"2026-12-01T09:38:22.665Z info  [worker] config: kafka = client.rack=zone-a (command line)\n"
	for option, want := range map[string]string{"grace": "AUDITOR_GRACE", "kafka": "command line", "windows": ""} {
		if got := configOrigin(log, option); got != want {
			t.Errorf("configOrigin(%s) = %q, want %q", option, got, want)
		}
	}
}

func TestMemoryLimitMustHoldAuditorsMemory(t *testing.T) {
	for _, tc := range []struct {
		value, limit string
		fails        bool
	}{
		{"512MiB", "640Mi", false},
		{"512MiB", "512Mi", false},
		{"1GiB", "1Gi", false},
		{"536870912", "512Mi", false},
		{"512MiB", "500Mi", true},
		{"1GiB", "1000Mi", true},
		{"512MiB", "", true},
		{"512MB", "1Mi", false}, // auditor refuses it at start (runcheck), not here
	} {
		ct := corev1.Container{Name: "worker"}
		if tc.limit != "" {
			ct.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(tc.limit)}
		}
		c := &checker{counts: map[string]int{}}
		c.checkMemoryLimit(object{}, ct, tc.value)
		if failed := len(c.errors) > 0; failed != tc.fails {
			t.Errorf("AUDITOR_MEMORY %s, limit %q: failed %v (%v), want %v", tc.value, tc.limit, failed, c.errors, tc.fails)
		}
	}
}
