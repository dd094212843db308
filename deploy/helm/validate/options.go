package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// optionSets knows each auditor command's options, as the real binary's --help lists them.
type optionSets struct {
	binary string
	byCmd  map[string]map[string]bool
}

// An option line of Boost.Program_options' help: "  --name arg ..." or "  -h [ --help ]".
var optionLine = regexp.MustCompile(`^\s+(?:-\w \[ )?--([a-z0-9][a-z0-9-]*)`)

func (s *optionSets) options(command string) (map[string]bool, error) {
	if known, ok := s.byCmd[command]; ok {
		return known, nil
	}
	out, err := exec.Command(s.binary, command, "--help").Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s --help: %v", s.binary, command, err)
	}
	known := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := optionLine.FindStringSubmatch(line); m != nil && m[1] != "help" {
			known[m[1]] = true
		}
	}
	if len(known) == 0 {
		return nil, fmt.Errorf("%s %s --help lists no options", s.binary, command)
	}
	s.byCmd[command] = known
	return known, nil
}

// check answers whether `option` (without dashes) is one of command's options.
func (s *optionSets) check(command, option string) (bool, error) {
	known, err := s.options(command)
	if err != nil {
		return false, err
	}
	return known[option], nil
}

// envOption maps AUDITOR_GRACE to "grace", as auditor does (worker/common/cli_options.cpp).
func envOption(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "AUDITOR_")
	if !ok {
		return "", false
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", "-")), true
}

// isSecret mirrors auditor's rule for options and --kafka properties it refuses on the
// command line, where `ps` shows them (is_secret_property, worker/common/effective_config.cpp).
func isSecret(key string) bool {
	if strings.HasSuffix(key, "-file") || strings.HasSuffix(key, ".location") {
		return false
	}
	lower := strings.ToLower(key)
	for _, part := range []string{"password", "secret", "sasl.jaas", "oauthbearer.config", "key.pem"} {
		if strings.Contains(lower, part) {
			return true
		}
	}
	return false
}
