#!/usr/bin/env bash
# Builds and runs the libFuzzer targets in native/fuzz/*.cc against the ESP engine's packet
# code (native/src/esp), with AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/fuzz-native.sh build                 build every target into build/fuzz/
#   scripts/fuzz-native.sh run TARGET [ARGS...]  run one target on its corpus (libFuzzer args)
#   scripts/fuzz-native.sh list                  print the target names
#
# The addon takes OpenSSL from the node binary; a standalone fuzzer links the system libcrypto
# (libssl-dev) instead, in this build only. The engine's socket, thread and N-API parts are not
# linked: the targets call the stage functions (packet.h, offload.h) the pipeline calls.
# Corpora live in test/fuzz/corpus/native-TARGET (checked in seeds); new inputs libFuzzer finds
# go to build/fuzz/corpus/TARGET so the checked-in seeds only change on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."

CXX=${CXX:-clang++}
OUT=build/fuzz
ENGINE_SOURCES=(native/src/esp/packet.cc native/src/esp/sa.cc native/src/esp/crypto.cc native/src/esp/gcm.cc
                native/src/esp/offload.cc)
FLAGS=(-std=gnu++20 -O1 -g -fno-omit-frame-pointer -D_GNU_SOURCE -Inative/src -Inative/fuzz
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)

targets() { for f in native/fuzz/*.cc; do basename "$f" .cc; done; }

build() {
  command -v "$CXX" >/dev/null || { echo "fuzz-native: $CXX not found (apt-get install clang libssl-dev)" >&2; exit 2; }
  mkdir -p "$OUT/obj"
  # Engine objects once, shared by every target; rebuilt only when a source is newer.
  local objs=()
  for src in "${ENGINE_SOURCES[@]}"; do
    local obj="$OUT/obj/$(basename "$src" .cc).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find native/src/esp -name '*.h' -newer "$obj")" ]; then
      # The engine objects get coverage and sanitizers, not libFuzzer's main.
      "$CXX" "${FLAGS[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" -include native/fuzz/cpu_features.h \
        -c "$src" -o "$obj"
    fi
    objs+=("$obj")
  done
  local t
  for t in $(targets); do
    local bin="$OUT/$t"
    if [ ! -f "$bin" ] || [ -n "$(find native/fuzz "${objs[@]}" -newer "$bin" 2>/dev/null)" ]; then
      "$CXX" "${FLAGS[@]}" "native/fuzz/$t.cc" "${objs[@]}" -lcrypto -o "$bin"
    fi
  done
}

run() {
  local t=$1; shift
  build
  mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t"
  local seeds=test/fuzz/corpus/native-$t
  local corpora=("$OUT/corpus/$t")
  [ -d "$seeds" ] && corpora+=("$seeds")
  # halt_on_error: a sanitizer report is a failure, never a warning.
  ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
    "$OUT/$t" -artifact_prefix="$OUT/crashes/$t/" "$@" "${corpora[@]}"
}

case "${1:-}" in
  build) build ;;
  list) targets ;;
  run) shift; [ $# -ge 1 ] || { echo "usage: $0 run TARGET [libFuzzer args]" >&2; exit 2; }; run "$@" ;;
  *) echo "usage: $0 build | list | run TARGET [libFuzzer args]" >&2; exit 2 ;;
esac
