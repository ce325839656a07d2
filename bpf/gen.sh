#!/bin/sh
# gen.sh compiles src/orchard.c with bpf2go into orchard_bpfel.go and
# orchard_bpfel.o. The clang is pinned (CLANG, default clang-14, as in the
# Makefile) because another clang version emits a different object and the
# committed output must be reproducible. OUT_DIR redirects the output (the
# freshness test regenerates into a temporary folder and compares).
set -eu
CLANG="${CLANG:-clang-14}"
OUT_DIR="${OUT_DIR:-.}"
# The asm/ headers of a fresh Debian live under the multiarch folder.
exec go run github.com/cilium/ebpf/cmd/bpf2go -cc "$CLANG" -target bpfel \
	-output-dir "$OUT_DIR" -go-package bpf \
	-type event -type flow_key -type flow_val -type lpm_key -type counters \
	orchard src/orchard.c -- -O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu
