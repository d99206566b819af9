//go:build tools

// Package tools pins the main packages built from this module.
package tools

import (
	_ "sigs.k8s.io/kube-network-policies/cmd"
)
