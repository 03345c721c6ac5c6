#!/usr/bin/env bash
# 64-bit Arm check: install the device runtime from aarch64 wheels in a Debian bookworm arm64 root,
# run `edgemood infer --json` on every committed clip for each backend and precision under QEMU
# user emulation, and compare with the same commands on x86 (largest probability difference
# <= 5e-4, same emotions). Speed under emulation means nothing; correctness is what is checked.
#
# Usage: .ci/arm64.sh [X86_PYTHON]
#   X86_PYTHON   the x86 interpreter with edgemood installed, absolute or relative to the checkout
#                (default: $EDGEMOOD_X86_PYTHON, else .venv/bin/python, as .ci/run makes it).
#   EDGEMOOD_ARM64_CACHE  where the arm64 root and the aarch64 wheels are kept between runs (default
#                /var/cache/edgemood-arm64 when writable, else ~/.cache/edgemood-arm64). Delete it
#                to rebuild from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

X86_PYTHON=${1:-${EDGEMOOD_X86_PYTHON:-$REPO/.venv/bin/python}}
if [ -d /var/cache ] && { [ -w /var/cache/edgemood-arm64 ] || [ -w /var/cache ]; }; then
    DEFAULT_CACHE=/var/cache/edgemood-arm64
else
    DEFAULT_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/edgemood-arm64
fi
CACHE=${EDGEMOOD_ARM64_CACHE:-$DEFAULT_CACHE}
ROOT=$CACHE/bookworm-arm64
SUITE=bookworm
# A real Pi/Jetson-class core: QEMU 7.2's default `max` model has SME, under which LiteRT's INT8
# kernels give wrong answers.
export QEMU_CPU=cortex-a72

say() { echo "arm64: $*" >&2; }
die() { echo "arm64: error: $*" >&2; exit 1; }
# CPU time (user + system) of this shell and its finished children so far, in CPU_NOW. `times`
# must run in this shell (in a $(...) subshell it would count the subshell's children only).
CPU_FILE=$(mktemp)
WORK=""
trap 'rm -rf "$CPU_FILE" "$WORK"' EXIT
cpu_now() {
    times >"$CPU_FILE"
    CPU_NOW=$(awk '{ for (i = 1; i <= NF; i++) { split($i, t, /[ms]/); cpu += t[1] * 60 + t[2] } }
        END { printf "%.0f", cpu }' "$CPU_FILE")
}
SECONDS=0
phase_start=0
phase_cpu=0
phase() {  # phase NAME: report how long the previous phase took, then start NAME
    cpu_now
    if [ -n "${phase_name:-}" ]; then
        say "phase '$phase_name' took $((SECONDS - phase_start)) s ($((CPU_NOW - phase_cpu)) s of CPU)"
    fi
    phase_name=$1
    phase_start=$SECONDS
    phase_cpu=$CPU_NOW
    [ -z "$1" ] || say "--- $1"
}

[ -x "$X86_PYTHON" ] || die "no x86 python at $X86_PYTHON (pass it as the first argument)"
"$X86_PYTHON" -c 'import edgemood' 2>/dev/null \
    || die "$X86_PYTHON cannot import edgemood (install the checkout into it first)"

phase tools
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=$(command -v sudo || true)
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq qemu-user-static debootstrap >/dev/null
fi
qemu-aarch64-static --version | head -n 1 >&2

# The Debian mirror apt is configured with (deb822 .sources files or one-line .list files).
debian_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # The stanza whose Suites name the release itself (not -security or -updates).
        awk -v suite="$SUITE" '
            /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            END { if (uri != "" && ok) print uri }' "$f" | head -n 1
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '$1 == "deb" && $0 ~ "[[:space:]]" suite "[[:space:]]" {
            for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
    done
}

phase root
mkdir -p "$CACHE"
# One builder at a time; a second CI run on the same machine waits, then reuses the root.
exec 9>"$CACHE/lock"
flock 9
if [ -f "$ROOT/.edgemood-complete" ]; then
    say "reusing the arm64 root in $ROOT"
else
    MIRROR=$(debian_mirror | head -n 1)
    [ -n "$MIRROR" ] || die "no Debian $SUITE mirror found in /etc/apt/sources.list{,.d/*}"
    say "building a $SUITE arm64 root in $ROOT from $MIRROR"
    [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ] || die "debootstrap needs root (or sudo)"
    $SUDO rm -rf "$ROOT.tmp"
    # --foreign: download and unpack only. The second stage runs arm64 dpkg and maintainer scripts
    # inside a chroot, which needs binfmt_misc to exec arm64 programs from arm64 programs (without
    # it: "Exec format error"). Python needs none of those scripts, so the downloaded packages are
    # unpacked on the host below instead; that works with and without binfmt.
    $SUDO debootstrap --foreign --arch=arm64 --variant=minbase --include=python3,python3-venv \
        "$SUITE" "$ROOT.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
    for deb in "$ROOT.tmp"/var/cache/apt/archives/*.deb; do
        # Keep the merged-/usr links (/bin -> usr/bin) debootstrap made.
        dpkg-deb --fsys-tarfile "$deb" | $SUDO tar -x --keep-directory-symlink -C "$ROOT.tmp" -f -
    done
    $SUDO rm -f "$ROOT.tmp"/var/cache/apt/archives/*.deb
    # Built by root through sudo: hand it to this user, who writes the venv and cpuinfo into it.
    [ -z "$SUDO" ] || $SUDO chown -R "$(id -u):$(id -g)" "$ROOT.tmp"
    [ -x "$ROOT.tmp/usr/bin/python3" ] || die "python3 missing from the arm64 root"
    touch "$ROOT.tmp/.edgemood-complete"
    $SUDO rm -rf "$ROOT"
    mv "$ROOT.tmp" "$ROOT"
fi

# onnxruntime's import segfaults when it reads the host's x86 /proc/cpuinfo. qemu-user's -L
# prefix serves a file that exists under ROOT in place of the host's, so a Cortex-A72 cpuinfo
# (a Raspberry Pi 4's, one entry per host CPU) placed there is what the emulated programs read.
# debootstrap makes ROOT/proc a link to the host's /proc inside containers: replace it.
if [ -L "$ROOT/proc" ]; then rm "$ROOT/proc"; fi
mkdir -p "$ROOT/proc"
{
    for ((i = 0; i < $(nproc); i++)); do
        printf 'processor\t: %d\nBogoMIPS\t: 108.00\n' "$i"
        printf 'Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\n'
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n'
        printf 'CPU part\t: 0xd08\nCPU revision\t: 3\n\n'
    done
    printf 'Hardware\t: BCM2835\nRevision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n'
} >"$ROOT/proc/cpuinfo"
flock -u 9

# Runs an arm64 program of the root. Always through qemu-aarch64-static -L, which needs no
# binfmt_misc; file names given to it must be host paths (a path that does not exist under ROOT
# falls through to the host, so new files are written under "$ROOT"/... explicitly).
arm64() { qemu-aarch64-static -L "$ROOT" "$@"; }

WORK=$(mktemp -d "$ROOT/tmp/edgemood.XXXXXX")
VENV=$WORK/venv

phase "venv and pip install"
# edgemood is pure Python: build its wheel on x86 (a PEP 517 build runs pip in a subprocess, which
# an emulated program cannot start without binfmt), then install it with its dependencies from
# aarch64 wheels only.
"$X86_PYTHON" -m pip wheel -q --no-deps -w "$WORK/wheel" "$REPO" >&2
WHEEL=$(ls "$WORK"/wheel/edgemood-*.whl)
# --without-pip: ensurepip runs pip in a subprocess too. The root's pip wheel runs in-process.
arm64 "$ROOT/usr/bin/python3.11" -m venv --without-pip "$VENV"
PIP_WHL=$(ls "$ROOT"/usr/share/python-wheels/pip-*.whl)
# Downloading under emulation (TLS, hashing) cost about a CPU-minute: x86 pip fetches the
# aarch64 wheels for the platforms the arm64 interpreter accepts (its own tag list) into a cache
# kept between runs; the arm64 pip then resolves and installs from there alone, so a wheel the
# device would need but the download missed fails the install rather than going unnoticed.
# Its Python version, then the platform tags it accepts, one a line.
mapfile -t TARGET < <(arm64 "$VENV/bin/python" -c '
import platform, sys
print("arm64 python", sys.version.split()[0], platform.machine(), *platform.libc_ver(),
      file=sys.stderr)
sys.path.insert(0, sys.argv[1])
from pip._vendor.packaging.tags import sys_tags
print("%d.%d" % sys.version_info[:2])
seen = []
for tag in sys_tags():
    if tag.platform != "any" and tag.platform not in seen:
        seen.append(tag.platform)
print(*seen, sep="\n")' "$PIP_WHL")
[ "${#TARGET[@]}" -gt 1 ] || die "the arm64 python did not run (messages above)"
PY_VERSION=${TARGET[0]}
PLATFORMS=("${TARGET[@]:1}")
WHEELS=$CACHE/wheels
"$X86_PYTHON" -m pip download -q --only-binary=:all: -d "$WHEELS" --python-version "$PY_VERSION" \
    --implementation cp "${PLATFORMS[@]/#/--platform=}" pip "$WHEEL" >&2
arm64 "$VENV/bin/python" "$PIP_WHL/pip" install -q --no-warn-script-location --no-compile \
    --no-index --find-links "$WHEELS" --only-binary=:all: pip "$WHEEL" >&2
arm64 "$VENV/bin/python" -m pip freeze \
    | grep -iE '^(edgemood|numpy|onnxruntime|ai-edge-litert|opencv-python-headless|av|tokenizers|typer)[=@ ]'

phase infer
# Every committed clip in the fixture and example folders.
mapfile -t CLIPS < <(git -C "$REPO" ls-files tests/fixtures edgemood/assets/example \
    | grep -iE '\.(flac|wav|mp3|ogg|m4a|mp4|mkv|avi|mov|webm)$')
[ "${#CLIPS[@]}" -gt 0 ] || die "no committed clips found"
say "${#CLIPS[@]} clips: ${CLIPS[*]}"
OUT=$WORK/out
mkdir -p "$OUT"
infer() {  # infer ARCH BACKEND PRECISION: one infer --json run, its lines in $OUT/ARCH-B-P.jsonl
    local name=$1-$2-$3 t0=$SECONDS
    # The arm64 side runs the installed console script: `python -m` would put the checkout first
    # on sys.path and test its files instead of what pip installed.
    local cmd=("$X86_PYTHON" -m edgemood)
    [ "$1" = x86 ] || cmd=(arm64 "$VENV/bin/python" "$VENV/bin/edgemood")
    if "${cmd[@]}" infer --json --backend "$2" --precision "$3" "${CLIPS[@]}" \
        >"$OUT/$name.jsonl" 2>"$OUT/$name.err"; then
        say "$1 $2 $3: $((SECONDS - t0)) s"
    else
        cat "$OUT/$name.err" >&2
        say "$1 $2 $3: infer failed (exit status and messages above)"
        return 1
    fi
}
for backend in onnx tflite; do
    for precision in fp32 int8; do
        infer x86 "$backend" "$precision"
    done
done
# Two emulated runs at a time: one per core of the CI machine.
for backend in onnx tflite; do
    pids=()
    for precision in fp32 int8; do
        infer arm64 "$backend" "$precision" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
done

phase compare
status=0
for backend in onnx tflite; do
    for precision in fp32 int8; do
        "$X86_PYTHON" .ci/compare_predictions.py --tolerance 5e-4 --text-tolerance 5e-3 --face-tolerance 5e-3 \
            --label "$backend $precision" \
            "$OUT/x86-$backend-$precision.jsonl" "$OUT/arm64-$backend-$precision.jsonl" || status=1
    done
done
phase ""
cpu_now
say "total $SECONDS s ($CPU_NOW s of CPU; load average now: $(cut -d" " -f1-3 /proc/loadavg))"
[ "$status" -eq 0 ] || die "arm64 and x86 predictions differ (lines above)"
say "arm64 and x86 agree"
