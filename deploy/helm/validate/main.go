// Command validate checks the output of `helm template` for auditor's chart
// (deploy/helm/auditor) without a cluster:
//
//   - every document decodes strictly into its real Kubernetes API type (k8s.io/api):
//     unknown or duplicate fields, wrong value types and unknown kinds are errors;
//
//   - references hold: selectors match pod labels, Services and probes name declared
//     container ports, every volume mount has a volume, a StatefulSet's serviceName is a
//     rendered headless Service, an HPA's target is rendered, $(VAR) references are
//     defined before use;
//
//   - every Secret and ConfigMap referred to is named in the values (nothing invented);
//
//   - every --option in a container's args and every AUDITOR_* variable is an option the
//     real `auditor <command> --help` lists, and no secret is on a command line.
//
//   - with -run, each container's command line starts with its environment against the
//     real binary, which must accept every value and report every option it was given.
//
// Usage: validate -auditor BIN [-run] [-values FILE]... [MANIFEST]
// (MANIFEST defaults to standard input). Exit 0 when all holds, 1 with every problem
// listed, 2 for bad usage.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	binary := flag.String("auditor", "", "the auditor binary whose --help lists the options")
	run := flag.Bool("run", false, "also start each container's command line (see runcheck.go)")
	var valueFiles listFlag
	flag.Var(&valueFiles, "values", "a values file the manifest was rendered with (repeatable)")
	flag.Parse()
	if *binary == "" || flag.NArg() > 1 {
		fmt.Fprintln(os.Stderr, "usage: validate -auditor BIN [-run] [-values FILE]... [MANIFEST]")
		os.Exit(2)
	}
	if err := validate(*binary, *run, valueFiles, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(2)
	}
}

func validate(binary string, start bool, valueFiles []string, manifest string) error {
	var stream []byte
	var err error
	if manifest == "" {
		stream, err = io.ReadAll(os.Stdin)
	} else {
		stream, err = os.ReadFile(manifest)
	}
	if err != nil {
		return err
	}
	c := &checker{
		valueText:  map[string]bool{},
		options:    &optionSets{binary: binary, byCmd: map[string]map[string]bool{}},
		counts:     map[string]int{},
		referenced: map[string]bool{},
	}
	for _, file := range valueFiles {
		if err := collectStrings(file, c.valueText); err != nil {
			return err
		}
	}
	kinds := map[string]int{}
	for _, doc := range splitDocuments(stream) {
		o, err := decode(doc)
		if err != nil {
			c.errors = append(c.errors, err.Error())
			continue
		}
		c.objects = append(c.objects, o)
		kinds[o.kind]++
	}
	if len(c.objects) == 0 && len(c.errors) == 0 {
		c.errors = append(c.errors, "no objects in the manifest")
	}
	c.run()
	if start && len(c.errors) == 0 {
		c.runContainers()
	}

	var summary []string
	for _, k := range sortedKeys(kinds) {
		summary = append(summary, fmt.Sprintf("%d %s", kinds[k], k))
	}
	fmt.Printf("decoded strictly: %d objects (%s)\n", len(c.objects), strings.Join(summary, ", "))
	var counted []string
	for _, k := range sortedKeys(c.counts) {
		counted = append(counted, fmt.Sprintf("%d %s", c.counts[k], k))
	}
	fmt.Printf("checked: %s\n", strings.Join(counted, ", "))
	if len(c.referenced) > 0 {
		fmt.Printf("referenced from the values: %s\n", strings.Join(sortedKeys(c.referenced), ", "))
	}
	if len(c.errors) > 0 {
		for _, e := range c.errors {
			fmt.Println("error:", e)
		}
		fmt.Printf("validate: %d problems\n", len(c.errors))
		os.Exit(1)
	}
	fmt.Println("validate: ok")
	return nil
}

// collectStrings adds every string value of a YAML file (at any depth) to out.
func collectStrings(file string, out map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			out[t] = true
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(tree)
	return nil
}
