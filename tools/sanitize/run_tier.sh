#!/usr/bin/env bash
# Sanitizer tier: the extension built with AddressSanitizer + UndefinedBehaviorSanitizer, the
# sanitizer runtimes preloaded into the Python that imports torch, then the cross-validation,
# case-coverage and fuzz tests against that build on every ISA variant this CPU runs.
# Any sanitizer report aborts the process, so the tier fails.
#   PYTHON=python tools/sanitize/run_tier.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
BUILD=build/sanitize
JOBS=${JOBS:-$(nproc)}
start=$(date +%s)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_SANITIZE=address,undefined \
  -DPython_EXECUTABLE="$(command -v "$PYTHON")" -Dpybind11_DIR="$("$PYTHON" -m pybind11 --cmakedir)" >/dev/null
cmake --build "$BUILD" -j "$JOBS" >/dev/null
so=$(ls "$BUILD"/_kernels*.so | head -n 1)
echo "sanitizer build: $so ($(( $(date +%s) - start )) s)"
asan=$(${CXX:-g++} -print-file-name=libasan.so)
ubsan=$(${CXX:-g++} -print-file-name=libubsan.so)
# detect_leaks=0: CPython and torch keep allocations alive until exit by design;
# the interposed allocator must tolerate torch's own aligned allocations.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:detect_odr_violation=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export SPARSEBENCH_KERNELS_SO="$so"
LD_PRELOAD="$asan $ubsan" "$PYTHON" -c 'import sparsebench._kernels as k, sys; assert "sanitize" in k.__file__, k.__file__; print("loaded", k.__file__)'
LD_PRELOAD="$asan $ubsan" "$PYTHON" -m pytest -q -p no:cacheprovider \
  tests/test_crossval.py tests/test_case_coverage.py tests/test_fuzz.py tests/test_kernel_boundary.py "$@"
echo "sanitizer tier took $(( $(date +%s) - start )) s"
