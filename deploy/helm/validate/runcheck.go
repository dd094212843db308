package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// lockedBuffer collects a process's output while the check polls it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runContainers starts each container's command line with its environment, as the pod
// would, against the real binary: auditor rejects a bad value (a duration it cannot
// parse, an unknown guarantee, a file it cannot read, ...) with exit code 2 before it
// connects, and logs every option it took with where it came from ("config: grace = 30s
// (AUDITOR_GRACE)"), which shows that each variable and argument reached it. Nothing
// reaches a broker: the bootstrap servers are 127.0.0.1:1, ports 0, the state directory a
// temporary one. Secret and ConfigMap mounts become temporary directories holding the
// files the command line names (a token, a self-signed certificate and its key, a
// password), so a path that points outside its mount is a file that does not exist.
// The containers run at once (a secured one waits up to 15 s for its broker).
func (c *checker) runContainers() {
	dir, err := os.MkdirTemp("", "auditor-helm-run-")
	if err != nil {
		c.errors = append(c.errors, err.Error())
		return
	}
	defer os.RemoveAll(dir)
	files, err := newPlaceholderFiles()
	if err != nil {
		c.errors = append(c.errors, err.Error())
		return
	}
	var wg sync.WaitGroup
	for _, w := range c.workloads {
		for _, ct := range w.pod.Spec.Containers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.runContainer(w, ct, filepath.Join(dir, w.name+"-"+ct.Name), files)
			}()
		}
	}
	wg.Wait()
}

// placeholderFiles are the contents a mounted file gets, by the option that names it.
type placeholderFiles map[string]string

func newPlaceholderFiles() (placeholderFiles, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "auditor-helm-validate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return placeholderFiles{
		"tls-cert":              cert,
		"kafka-ssl-ca-location": cert,
		"tls-key":               string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		"auth-token-file":       "placeholder-token\n",
	}, nil
}

func (f placeholderFiles) content(option string) string {
	if text, ok := f[option]; ok {
		return text
	}
	return "placeholder\n"
}

// fileMounts maps each Secret or ConfigMap mount path of the container to a directory
// under root.
func fileMounts(spec corev1.PodSpec, ct corev1.Container, root string) map[string]string {
	fileVolumes := map[string]bool{}
	for _, v := range spec.Volumes {
		fileVolumes[v.Name] = v.Secret != nil || v.ConfigMap != nil || v.Projected != nil
	}
	mounts := map[string]string{}
	for _, m := range ct.VolumeMounts {
		if fileVolumes[m.Name] {
			mounts[strings.TrimSuffix(m.MountPath, "/")+"/"] = filepath.Join(root, "mounts", m.Name) + "/"
		}
	}
	return mounts
}

// localPath rewrites a path inside a file mount to its directory here and writes the
// file the option expects there; other values are returned as they are.
func localPath(value, option string, mounts map[string]string, files placeholderFiles) (string, error) {
	for mountPath, local := range mounts {
		if rest, ok := strings.CutPrefix(value, mountPath); ok {
			path := local + rest
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return "", err
			}
			return path, os.WriteFile(path, []byte(files.content(option)), 0o600)
		}
	}
	return value, nil
}

func (c *checker) runContainer(w workload, ct corev1.Container, root string, files placeholderFiles) {
	stateDir := filepath.Join(root, "state")
	mounts := fileMounts(w.pod.Spec, ct, root)
	var setupErr error
	overrides := map[string]string{
		"bootstrap-servers": "127.0.0.1:1", "port": "0", "http-port": "0", "state-dir": stateDir,
	}
	values := map[string]string{}
	var env []string
	for _, e := range ct.Env {
		value := e.Value
		if f := e.ValueFrom; f != nil {
			switch {
			case f.FieldRef != nil && f.FieldRef.FieldPath == "metadata.name":
				value = w.name + "-0"
			case f.FieldRef != nil && f.FieldRef.FieldPath == "metadata.namespace":
				value = "default"
			default:
				value = "placeholder"
			}
		}
		value = varRef.ReplaceAllStringFunc(value, func(ref string) string { return values[ref[2:len(ref)-1]] })
		if option, ok := envOption(e.Name); ok {
			if overrides[option] != "" {
				value = overrides[option]
			} else if local, err := localPath(value, option, mounts, files); err == nil {
				value = local
			} else {
				setupErr = err
			}
		}
		values[e.Name] = value
		env = append(env, e.Name+"="+value)
	}
	args := append([]string(nil), ct.Args...)
	for i := 1; i+1 < len(args); i++ {
		option, isOption := strings.CutPrefix(args[i], "--")
		if !isOption {
			continue
		}
		if v, ok := overrides[option]; ok {
			args[i+1] = v
		} else if local, err := localPath(args[i+1], option, mounts, files); err == nil {
			args[i+1] = local
		} else {
			setupErr = err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if setupErr != nil {
		c.fail(w.object, "container %s: %v", ct.Name, setupErr)
		return
	}
	var out lockedBuffer
	cmd := exec.Command(c.options.binary, args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, root, &out, &out
	if err := os.MkdirAll(root, 0o700); err != nil {
		c.fail(w.object, "container %s: %v", ct.Name, err)
		return
	}
	if err := cmd.Start(); err != nil {
		c.fail(w.object, "container %s: cannot start %s: %v", ct.Name, c.options.binary, err)
		return
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Up and serving, or gone. The lock is not held meanwhile: the containers run at once.
	c.mu.Unlock()
	deadline := time.After(25 * time.Second)
	var exitErr error
	running := true
wait:
	for {
		select {
		case exitErr = <-exited:
			running = false
			break wait
		case <-deadline:
			break wait
		case <-time.After(50 * time.Millisecond):
			if strings.Contains(out.String(), "listening on") {
				break wait
			}
		}
	}
	if running {
		_ = cmd.Process.Kill()
		<-exited
	}
	c.mu.Lock()
	log := out.String()
	if !running {
		c.fail(w.object, "container %s: `auditor %s` exited (%v) instead of starting: %s", ct.Name, args[0], exitErr, lastLine(log))
		return
	}
	c.counts["containers started"]++
	// Every variable and argument the chart set shows up with its origin.
	inArgs := map[string]bool{}
	for _, arg := range args[1:] {
		if option, ok := strings.CutPrefix(arg, "--"); ok {
			option, _, _ = strings.Cut(option, "=")
			inArgs[option] = true
		}
	}
	for _, e := range ct.Env {
		option, ok := envOption(e.Name)
		// The command line wins over the environment.
		if !ok || inArgs[option] {
			continue
		}
		if origin := configOrigin(log, option); origin != e.Name {
			c.fail(w.object, "container %s: auditor did not take %s (its configuration log says %s from %q)", ct.Name, e.Name, option, origin)
		}
		c.counts["options taken"]++
	}
	for option := range inArgs {
		if origin := configOrigin(log, option); !strings.Contains(origin, "command line") {
			c.fail(w.object, "container %s: auditor did not take --%s (its configuration log says it came from %q)", ct.Name, option, origin)
		}
		c.counts["options taken"]++
	}
}

// configOrigin is where auditor's configuration log says an option came from:
// "config: grace = 30s (AUDITOR_GRACE)" -> "AUDITOR_GRACE"; "" when it is not logged.
func configOrigin(log, option string) string {
	for _, line := range strings.Split(log, "\n") {
		if _, rest, ok := strings.Cut(line, "config: "+option+" = "); ok {
			if open := strings.LastIndex(rest, " ("); open >= 0 && strings.HasSuffix(rest, ")") {
				return rest[open+2 : len(rest)-1]
			}
		}
	}
	return ""
}

// lastLine is auditor's reason for stopping.
func lastLine(s string) string {
	trimmed := strings.TrimSpace(s)
	return trimmed[strings.LastIndex(trimmed, "\n")+1:]
}
