#!/usr/bin/env bash
# The side-by-side comparison of Rampart's hot-spot kernel with OpenCV, on
# the same frames, one core each. See benches/compare/README.md.
#
#   benches/compare/run.sh
#
# Environment (all optional):
#   CARGO_TARGET_DIR   cargo's target directory (default /tmp/cmp-target)
#   COMPARE_DIR        where frames and results go (default /tmp/rampart-cmp)
#   COMPARE_VENV       the Python virtual environment (default /tmp/rampart-cmp-venv;
#                      created with opencv-python-headless and numpy if missing)
#   COMPARE_CPU        the core both sides are pinned to (default 0)
#   COMPARE_PIP        what pip installs into a new venv
#                      (default "opencv-python-headless numpy")
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/cmp-target}"
dir="${COMPARE_DIR:-/tmp/rampart-cmp}"
venv="${COMPARE_VENV:-/tmp/rampart-cmp-venv}"
cpu="${COMPARE_CPU:-0}"
pip_spec="${COMPARE_PIP:-opencv-python-headless numpy}"

if command -v taskset >/dev/null 2>&1; then
    pin=(taskset -c "$cpu")
else
    echo "run.sh: taskset not found; running unpinned" >&2
    pin=()
fi

echo "== machine"
echo "nproc: $(nproc)"
lscpu | grep -E '^(Model name|L1d|L2|L3)' | sed 's/  */ /g' || true
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
rustc --version

echo "== Python venv ($venv)"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import cv2, numpy' 2>/dev/null; then
    python3 -m venv "$venv"
    # shellcheck disable=SC2086  # the spec is a list of requirements
    "$venv/bin/pip" install --quiet $pip_spec
fi
"$venv/bin/python" -c 'import cv2, numpy; print("opencv", cv2.__version__, "numpy", numpy.__version__)'

echo "== build (release)"
cd "$root"
cargo bench --bench compare --no-run

echo "== frames (generated once, shared by both sides)"
cargo bench -q --bench compare -- gen "$dir"

echo "== Rampart side (pinned: ${pin[*]:-none})"
"${pin[@]}" cargo bench -q --bench compare -- run "$dir"

echo "== OpenCV side and comparison (pinned: ${pin[*]:-none})"
"${pin[@]}" "$venv/bin/python" "$here/opencv_side.py" "$dir"
