//go:build !linux

package uring

import "errors"

// ReadFiles reads nothing on this system: io_uring is Linux's.
func ReadFiles(reads []Read, stat func(i, fd int) error) error { return errors.ErrUnsupported }
