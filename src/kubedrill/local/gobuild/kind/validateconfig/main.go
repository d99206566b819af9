// Command validateconfig checks a kind cluster config the way `kind create cluster --config FILE` reads it,
// on a machine without a Docker engine, and prints the decoded config as JSON.
//
// kind publishes no JSON schema for its config; its schema is the Go types in
// sigs.k8s.io/kind/pkg/apis/config/v1alpha4. kind's own loader (pkg/internal/apis/config/encoding) is
// internal, so Go lets no other module import it; this program does what that loader does, with the same
// library and options, against the same types, at the kind version pinned in ../go.mod:
//
//   - apiVersion must be kind.x-k8s.io/v1alpha4 and kind must be Cluster;
//   - strict decoding with go.yaml.in/yaml/v3 and KnownFields: an unknown or misspelt field is an error,
//     at any depth (kind's custom decoders for port mappings and mounts run too);
//   - kind's public defaults (v1alpha4.SetDefaultsCluster);
//   - the checks of kind's internal Cluster.Validate that a config file can fail: cluster name, node roles,
//     at least one control plane, node images, port numbers, duplicate host ports, subnets and modes.
//
// With -control-planes N / -workers N it also checks the number of nodes of each role.
//
// Usage: go run ./validateconfig [-control-planes N] [-workers N] FILE
// Exit 0 and the config as JSON on stdout; exit 1 and one line per problem on stderr; exit 2 on bad usage.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

const apiVersion = "kind.x-k8s.io/v1alpha4"

// kind's rule for cluster names (pkg/internal/apis/config/validate.go).
var validName = regexp.MustCompile(`^[a-z0-9.-]+$`)

func main() {
	controlPlanes := flag.Int("control-planes", -1, "expected number of control-plane nodes (-1: any)")
	workers := flag.Int("workers", -1, "expected number of worker nodes (-1: any)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: validateconfig [-control-planes N] [-workers N] FILE")
		os.Exit(2)
	}
	path := flag.Arg(0)
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
		os.Exit(1)
	}
	cfg, err := decode(raw)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
		os.Exit(1)
	}
	problems := validate(cfg)
	problems = append(problems, countRoles(cfg, *controlPlanes, *workers)...)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "%s: %s\n", path, p)
		}
		os.Exit(1)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
		os.Exit(1)
	}
}

// decode reads one YAML document the way kind's encoding.Parse does, and applies kind's defaults.
func decode(raw []byte) (*v1alpha4.Cluster, error) {
	var meta struct {
		Kind       string `yaml:"kind"`
		APIVersion string `yaml:"apiVersion"`
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("could not determine kind / apiVersion: %w", err)
	}
	if meta.APIVersion != apiVersion {
		return nil, fmt.Errorf("apiVersion: expected %s, got %q", apiVersion, meta.APIVersion)
	}
	if meta.Kind != "Cluster" {
		return nil, fmt.Errorf("kind: expected Cluster, got %q", meta.Kind)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	cfg := &v1alpha4.Cluster{}
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("unable to decode config: %w", err)
	}
	// kind reads the first document only; a second one would be silently ignored: refuse it here.
	var extra interface{}
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("expected one YAML document, found more (kind reads only the first)")
	}
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg, nil
}

// validate mirrors kind's internal Cluster.Validate and Node.Validate at the pinned version.
func validate(c *v1alpha4.Cluster) []string {
	var problems []string
	if !validName.MatchString(c.Name) {
		problems = append(problems, fmt.Sprintf("name: %q is not a valid cluster name, expected it to match %s", c.Name, validName))
	}
	if c.Networking.APIServerPort != 0 && !validPort(c.Networking.APIServerPort) {
		problems = append(problems, fmt.Sprintf("networking.apiServerPort: invalid port number %d", c.Networking.APIServerPort))
	}
	switch c.Networking.IPFamily {
	case v1alpha4.IPv4Family, v1alpha4.IPv6Family, v1alpha4.DualStackFamily:
	default:
		problems = append(problems, fmt.Sprintf("networking.ipFamily: invalid %q", c.Networking.IPFamily))
	}
	for field, subnet := range map[string]string{"podSubnet": c.Networking.PodSubnet, "serviceSubnet": c.Networking.ServiceSubnet} {
		for _, cidr := range strings.Split(subnet, ",") {
			if _, _, err := net.ParseCIDR(cidr); err != nil {
				problems = append(problems, fmt.Sprintf("networking.%s: %v", field, err))
			}
		}
	}
	switch c.Networking.KubeProxyMode {
	case v1alpha4.IPTablesProxyMode, v1alpha4.IPVSProxyMode, v1alpha4.NFTablesProxyMode, "none": // kind's internal NoneProxyMode
	default:
		problems = append(problems, fmt.Sprintf("networking.kubeProxyMode: invalid %q", c.Networking.KubeProxyMode))
	}
	controlPlanes := 0
	for i, n := range c.Nodes {
		where := fmt.Sprintf("nodes[%d]", i)
		switch n.Role {
		case v1alpha4.ControlPlaneRole:
			controlPlanes++
		case v1alpha4.WorkerRole:
		default:
			problems = append(problems, fmt.Sprintf("%s.role: %q is not a valid node role (control-plane or worker)", where, n.Role))
		}
		if n.Image == "" {
			problems = append(problems, where+".image: required")
		}
		seen := map[string]bool{}
		for j, m := range n.ExtraPortMappings {
			at := fmt.Sprintf("%s.extraPortMappings[%d]", where, j)
			if !validPort(m.HostPort) {
				problems = append(problems, fmt.Sprintf("%s.hostPort: invalid port number %d", at, m.HostPort))
			}
			if !validPort(m.ContainerPort) {
				problems = append(problems, fmt.Sprintf("%s.containerPort: invalid port number %d", at, m.ContainerPort))
			}
			if m.HostPort == 0 || m.HostPort == -1 {
				continue // a random host port: duplicates are allowed
			}
			addr := m.ListenAddress
			if addr == "" || addr == "::" {
				addr = "0.0.0.0"
			}
			if net.ParseIP(addr) == nil {
				problems = append(problems, fmt.Sprintf("%s.listenAddress: invalid %q", at, m.ListenAddress))
				continue
			}
			key := fmt.Sprintf("%d/%s", m.HostPort, m.Protocol)
			if seen[key+"@"+addr] || seen[key+"@0.0.0.0"] || (addr == "0.0.0.0" && seen[key]) {
				problems = append(problems, fmt.Sprintf("%s: host port %s on %s is already mapped", at, key, addr))
			}
			seen[key+"@"+addr] = true
			seen[key] = true
		}
	}
	if controlPlanes < 1 {
		problems = append(problems, "nodes: must have at least one control-plane node")
	}
	return problems
}

func countRoles(c *v1alpha4.Cluster, controlPlanes, workers int) []string {
	count := map[v1alpha4.NodeRole]int{}
	for _, n := range c.Nodes {
		count[n.Role]++
	}
	var problems []string
	if controlPlanes >= 0 && count[v1alpha4.ControlPlaneRole] != controlPlanes {
		problems = append(problems, fmt.Sprintf("nodes: expected %d control-plane nodes, got %d", controlPlanes, count[v1alpha4.ControlPlaneRole]))
	}
	if workers >= 0 && count[v1alpha4.WorkerRole] != workers {
		problems = append(problems, fmt.Sprintf("nodes: expected %d worker nodes, got %d", workers, count[v1alpha4.WorkerRole]))
	}
	return problems
}

// validPort: -1 asks the container runtime for a random port, 0 kind; anything else must be a TCP/UDP port.
func validPort(port int32) bool {
	return port >= -1 && port <= 65535
}
