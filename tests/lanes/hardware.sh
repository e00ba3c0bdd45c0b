#!/usr/bin/env bash
# The real-kernel lane: Hardware-tagged tests inside qemu against gpio-sim, vivid and i2c-stub (tests/hardware/).
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../hardware/run-hardware-tests.sh" "$@"
