//go:build tools

// Package tools pins the main packages built from this module.
package tools

import (
	_ "github.com/coredns/coredns"
)
