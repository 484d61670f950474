#!/bin/sh
# A VM for difftest_hang that never reports a result: it spins
# (DT_FAKE_VM=spin) or sits blocked (DT_FAKE_VM=sleep). Its arguments,
# btvm's, are ignored.
case "${DT_FAKE_VM:-}" in
spin) while :; do :; done ;;
sleep) exec sleep 100000 ;;
*) echo "fake_vm.sh: DT_FAKE_VM must be spin or sleep" >&2; exit 2 ;;
esac
