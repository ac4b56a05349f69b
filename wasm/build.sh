#!/usr/bin/env bash
# Builds the codec to WebAssembly: a SIMD128 module, and a relaxed-SIMD twin made from it.
#
#   bash wasm/build.sh           rebuild src/codec/wasm/*.wasm
#   bash wasm/build.sh --check   rebuild into a temp dir and fail if the bytes differ from the
#                                committed modules (CI runs this, so the .wasm always matches source)
#
# Needs Debian's rustc 1.63 with libstd-rust-dev-wasm32 (/usr/bin/rustc: rustup's toolchain has no
# wasm32 target offline) and wabt (wasm2wat, wat2wasm).
#
# Why the relaxed twin is made by text rewriting: Rust 1.63 has no relaxed-SIMD intrinsics. Every
# `i8x16.swizzle` in the module is a nibble-table lookup (kernel.rs) whose indices are 0..=15, and
# for indices below 16 `i8x16.relaxed_swizzle` is defined to give exactly the same result, while
# letting V8 emit a bare `pshufb` instead of a saturating add plus `pshufb`. The rewrite touches
# nothing else, and the test suite checks both modules byte for byte against each other and the
# oracle.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTC=${RUSTC_WASM:-/usr/bin/rustc}
OUT=src/codec/wasm
mode=build
[[ "${1:-}" == "--check" ]] && mode=check

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$RUSTC" --edition 2021 --crate-name shardfarm_codec --crate-type cdylib \
  --target wasm32-unknown-unknown \
  -C opt-level=3 -C lto=fat -C codegen-units=1 -C panic=abort -C debuginfo=0 \
  -C target-feature=+simd128 -C strip=symbols \
  --remap-path-prefix "$PWD=/shardfarm" \
  -o "$work/standard.wasm" wasm/src/lib.rs

wasm2wat --enable-all "$work/standard.wasm" -o "$work/standard.wat"
swizzles=$(grep -c 'i8x16.swizzle' "$work/standard.wat" || true)
if [[ "$swizzles" -eq 0 ]]; then
  echo "build.sh: no i8x16.swizzle found; is the SIMD kernel compiled in?" >&2
  exit 1
fi
sed 's/i8x16\.swizzle/i8x16.relaxed_swizzle/g' "$work/standard.wat" > "$work/relaxed.wat"
wat2wasm --enable-relaxed-simd "$work/relaxed.wat" -o "$work/relaxed.wasm"
# Round-trip the standard module through the same text form too, so both modules come out of the
# same wabt version and differ only in the rewritten opcodes.
wat2wasm "$work/standard.wat" -o "$work/standard.rt.wasm"

if [[ $mode == check ]]; then
  status=0
  for f in standard relaxed; do
    src=$work/$f.wasm; [[ $f == standard ]] && src=$work/standard.rt.wasm
    if ! cmp -s "$src" "$OUT/shardfarm_codec_$f.wasm"; then
      echo "build.sh --check: $OUT/shardfarm_codec_$f.wasm differs from a fresh build of wasm/src" >&2
      status=1
    fi
  done
  [[ $status -eq 0 ]] && echo "wasm modules match their source ($swizzles swizzles rewritten in the relaxed one)"
  exit $status
fi

mkdir -p "$OUT"
cp "$work/standard.rt.wasm" "$OUT/shardfarm_codec_standard.wasm"
cp "$work/relaxed.wasm" "$OUT/shardfarm_codec_relaxed.wasm"
ls -l "$OUT"/*.wasm
echo "$swizzles swizzles rewritten to relaxed_swizzle"
