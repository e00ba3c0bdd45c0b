#!/usr/bin/env bash
# The real-kernel lane: Hardware-tagged tests inside qemu against gpio-sim, vivid and i2c-stub (tests/hardware/).
# lane-seconds: 220 (alone on the 2-core machine; tests/run-all.sh reads it to start the longest chains first)
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../hardware/run-hardware-tests.sh" "$@"
