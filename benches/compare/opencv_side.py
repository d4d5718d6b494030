"""The OpenCV half of the side-by-side comparison (see README.md here).

Usage: python opencv_side.py DIR

Reads DIR/frames.bin (written by `compare gen`) and Rampart's results
(DIR/rust.json, DIR/rust_blobs.bin, DIR/rust_masks.bin, written by
`compare run`). First it checks, for every frame of every case, that

- Rampart's hot mask equals the mask built here in numpy
  (|p - bg| >= dT both ways, p != 0, bg != 0);
- the masks the two timed OpenCV pipelines build equal that mask;
- OpenCV's default labelling and BBDT find the same blobs as Rampart
  (area, bounding box, centroid; plus min/max/mean temperature, computed
  here from OpenCV's labels, untimed);

and exits with status 1, printing no timing, if anything differs. Then it
times the OpenCV pipelines single-threaded and prints the tables and the
RESULT line.
"""

import json
import os
import platform
import statistics
import sys
import time

import cv2
import numpy as np

MAGIC = b"RMPCMP01"
HEADER = 32
NAME_LEN = 24
CASES = ["0.1%", "1%", "5%", "25%", "salt 5%"]
LOOP_TIME = 0.4  # seconds per timed loop, as on the Rust side
MIN_SAMPLES = 200
MAX_SAMPLES = 20000

BLOB_DTYPE = np.dtype(
    [
        ("area", "<u4"),
        ("x0", "<u4"),
        ("y0", "<u4"),
        ("x1", "<u4"),
        ("y1", "<u4"),
        ("t_min", "<u4"),
        ("t_max", "<u4"),
        ("cx", "<f8"),
        ("cy", "<f8"),
        ("t_mean", "<f8"),
        ("bg_mean", "<f8"),
    ]
)


def read_frames(path):
    with open(path, "rb") as f:
        head = f.read(HEADER)
        if head[:8] != MAGIC:
            sys.exit(f"{path}: bad magic")
        w, h, count, dt, shift, stripes = np.frombuffer(head[8:32], "<u4")
        names = [
            f.read(NAME_LEN).rstrip(b"\0").decode("ascii") for _ in range(count)
        ]
        data = np.fromfile(f, "<u2")
    if data.size != count * w * h:
        sys.exit(f"{path}: length")
    frames = data.reshape(count, h, w)
    assert names[0] == "bg"
    return names, frames, int(dt), int(shift), int(stripes)


# ---------------------------------------------------------------- pipelines


def opencv_default(p, bg, dt):
    """The plain way: absdiff + compare (and the dead-pixel rule), then
    connectedComponentsWithStats with its defaults (8-connected, CV_32S,
    CCL_DEFAULT)."""
    m = cv2.compare(cv2.absdiff(p, bg), dt, cv2.CMP_GE)
    m = cv2.bitwise_and(m, cv2.compare(p, 0, cv2.CMP_NE))
    m = cv2.bitwise_and(m, cv2.compare(bg, 0, cv2.CMP_NE))
    n, _labels, stats, centroids = cv2.connectedComponentsWithStats(m)
    return n, stats, centroids, m


class OpencvBest:
    """The best configuration found: preallocated outputs, the background's
    "known" mask kept between frames, BBDT with stats, and the background
    step of Rampart's kernel done with accumulateWeighted on a float32
    background, on the same one stripe of rows per frame: non-hot live
    pixels move by 2^-shift, hot ones by 2^-(shift+4), dead ones not at all;
    the stripe is rounded back to the u16 background the compare reads."""

    def __init__(self, bg, dt, shift, stripes):
        h, w = bg.shape
        self.dt = dt
        self.bg16 = bg.copy()
        self.bgf = bg.astype(np.float32)
        self.bg_known = cv2.compare(bg, 0, cv2.CMP_NE)
        self.diff = np.empty_like(bg)
        self.hot = np.empty((h, w), np.uint8)
        self.alive = np.empty((h, w), np.uint8)
        self.labels = np.empty((h, w), np.int32)
        rows = -(-h // stripes)
        self.stripes = [slice(s * rows, min(h, (s + 1) * rows)) for s in range(stripes)]
        self.next = 0
        self.cold = np.empty((rows, w), np.uint8)
        self.tmp = np.empty((rows, w), np.float32)
        self.alpha = 2.0**-shift
        self.alpha_hot = 2.0 ** -(shift + 4)

    def mask(self, p):
        cv2.absdiff(p, self.bg16, dst=self.diff)
        cv2.compare(self.diff, self.dt, cv2.CMP_GE, dst=self.hot)
        cv2.compare(p, 0, cv2.CMP_NE, dst=self.alive)
        cv2.bitwise_and(self.hot, self.alive, dst=self.hot)
        cv2.bitwise_and(self.hot, self.bg_known, dst=self.hot)
        return self.hot

    def label(self, m, algorithm=cv2.CCL_BBDT):
        n, _l, stats, centroids = cv2.connectedComponentsWithStatsWithAlgorithm(
            m, 8, cv2.CV_32S, algorithm, labels=self.labels
        )
        return n, stats, centroids

    def background(self, p):
        r = self.stripes[self.next]
        self.next = (self.next + 1) % len(self.stripes)
        k = r.stop - r.start
        cold, tmp = self.cold[:k], self.tmp[:k]
        pr, hot, bgf = p[r], self.hot[r], self.bgf[r]
        cv2.bitwise_not(hot, dst=cold)
        cv2.bitwise_and(cold, self.alive[r], dst=cold)
        cv2.accumulateWeighted(pr, bgf, self.alpha, mask=cold)
        cv2.accumulateWeighted(pr, bgf, self.alpha_hot, mask=hot)
        np.add(bgf, 0.5, out=tmp)
        self.bg16[r] = tmp  # truncation of x + 0.5: rounds like Rampart
        cv2.compare(self.bg16[r], 0, cv2.CMP_NE, dst=self.bg_known[r])

    def __call__(self, p):
        n, stats, centroids = self.label(self.mask(p))
        self.background(p)
        return n, stats, centroids


# ---------------------------------------------------------------- checking


def blobs_from_opencv(n, stats, centroids):
    """OpenCV's stats as Rampart's blobs (label 0 is the background;
    OpenCV puts pixel centres at integers, Rampart at +0.5)."""
    s = stats[1:n]
    c = centroids[1:n]
    out = np.zeros(n - 1, BLOB_DTYPE)
    out["area"] = s[:, cv2.CC_STAT_AREA]
    out["x0"] = s[:, cv2.CC_STAT_LEFT]
    out["y0"] = s[:, cv2.CC_STAT_TOP]
    out["x1"] = s[:, cv2.CC_STAT_LEFT] + s[:, cv2.CC_STAT_WIDTH] - 1
    out["y1"] = s[:, cv2.CC_STAT_TOP] + s[:, cv2.CC_STAT_HEIGHT] - 1
    out["cx"] = c[:, 0] + 0.5
    out["cy"] = c[:, 1] + 0.5
    return out


def temperatures(out, labels, n, p):
    """Min/max/mean temperature per label, from OpenCV's label image."""
    lab = labels.ravel()
    fg = lab > 0
    lab, val = lab[fg], p.ravel()[fg]
    order = np.argsort(lab, kind="stable")
    lab, val = lab[order], val[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    ids = lab[starts] - 1
    out["t_min"][ids] = np.minimum.reduceat(val, starts)
    out["t_max"][ids] = np.maximum.reduceat(val, starts)
    out["t_mean"][ids] = np.add.reduceat(val.astype(np.int64), starts) / out["area"][ids]


def canonical(b):
    order = np.lexsort((b["cy"], b["cx"], b["area"], b["x1"], b["y1"], b["x0"], b["y0"]))
    return b[order]


def diff_blobs(rust, ocv, temps):
    """None if they agree, else a description of the first difference."""
    if len(rust) != len(ocv):
        return f"{len(rust)} blobs (Rampart) vs {len(ocv)} (OpenCV)"
    r, o = canonical(rust), canonical(ocv)
    ints = ["area", "x0", "y0", "x1", "y1"] + (["t_min", "t_max"] if temps else [])
    floats = ["cx", "cy"] + (["t_mean"] if temps else [])
    for f in ints:
        bad = np.flatnonzero(r[f] != o[f])
        if bad.size:
            i = bad[0]
            return f"{f}: Rampart {r[i]} vs OpenCV {o[i]}"
    for f in floats:
        bad = np.flatnonzero(~np.isclose(r[f], o[f], rtol=1e-12, atol=1e-9))
        if bad.size:
            i = bad[0]
            return f"{f}: Rampart {r[i]} vs OpenCV {o[i]}"
    return None


def check(names, frames, dt, shift, stripes, out_dir):
    """Every frame: same mask, same blobs. Returns per-frame (blobs, hot px)."""
    rust = json.load(open(os.path.join(out_dir, "rust.json")))
    counts = rust["blob_counts"]
    h, w = frames.shape[1:]
    wpr = -(-w // 64)
    rust_blobs = np.fromfile(os.path.join(out_dir, "rust_blobs.bin"), BLOB_DTYPE)
    rust_masks = np.fromfile(os.path.join(out_dir, "rust_masks.bin"), "<u8")
    if len(counts) != len(frames) - 1 or rust_blobs.size != sum(counts):
        return None, "Rampart's results do not match frames.bin (rerun `compare run`)"
    rust_masks = rust_masks.reshape(len(frames) - 1, h, wpr)
    bg = frames[0]
    failures = []
    stats_per_frame = {}
    offset = 0
    for i in range(1, len(frames)):
        name, p = names[i], frames[i]
        rb = rust_blobs[offset : offset + counts[i - 1]]
        offset += counts[i - 1]
        want = (
            (p != 0)
            & (bg != 0)
            & (np.abs(p.astype(np.int32) - bg.astype(np.int32)) >= dt)
        )
        rm = np.unpackbits(
            rust_masks[i - 1].view(np.uint8), bitorder="little"
        ).reshape(h, wpr * 64)[:, :w]
        problems = []
        if not np.array_equal(rm.astype(bool), want):
            problems.append(f"Rampart's mask differs in {np.count_nonzero(rm.astype(bool) != want)} pixels")
        n_def, st_def, c_def, m_def = opencv_default(p, bg, dt)
        if not np.array_equal(m_def != 0, want):
            problems.append("the default pipeline's mask differs")
        best = OpencvBest(bg, dt, shift, stripes)
        m_best = best.mask(p)
        if not np.array_equal(m_best != 0, want):
            problems.append("the best pipeline's mask differs")
        # Label the reference mask, and check both algorithms on it.
        ref = want.astype(np.uint8) * 255
        n, labels, st, c = cv2.connectedComponentsWithStats(ref)
        ocv = blobs_from_opencv(n, st, c)
        temperatures(ocv, labels, n, p)
        d = diff_blobs(rb, ocv, temps=True)
        if d:
            problems.append(f"OpenCV default labelling: {d}")
        d = diff_blobs(rb, blobs_from_opencv(n_def, st_def, c_def), temps=False)
        if d:
            problems.append(f"OpenCV default pipeline: {d}")
        n_b, st_b, c_b = best.label(m_best)
        d = diff_blobs(rb, blobs_from_opencv(n_b, st_b, c_b), temps=False)
        if d:
            problems.append(f"OpenCV BBDT: {d}")
        if problems:
            failures.append(f"{name}: " + "; ".join(problems))
        stats_per_frame[name] = (len(rb), int(want.sum()))
    if failures:
        return None, "\n".join(failures[:20]) + (
            f"\n... and {len(failures) - 20} more" if len(failures) > 20 else ""
        )
    return (rust, stats_per_frame), None


# ---------------------------------------------------------------- timing


def run_loop(n, step, parts):
    """Like the Rust side: one untimed pass, then at least MIN_SAMPLES calls
    and LOOP_TIME, whole passes, at most MAX_SAMPLES; medians in µs."""
    for i in range(max(n, 16)):
        step(i % n)
    samples = [[] for _ in range(parts)]
    start = time.perf_counter()
    i = 0
    while i < MAX_SAMPLES and (
        i < MIN_SAMPLES or time.perf_counter() - start < LOOP_TIME or i % n != 0
    ):
        for s, d in zip(samples, step(i % n)):
            s.append(d / 1000.0)
        i += 1
    return [statistics.median(s) for s in samples]


def timed(f, *args):
    t = time.perf_counter_ns()
    f(*args)
    return time.perf_counter_ns() - t


def time_case(frames, idx, bg, dt, shift, stripes):
    set_ = [np.ascontiguousarray(frames[i]) for i in idx]
    n = len(set_)
    r = {}
    (r["default_us"],) = run_loop(n, lambda i: [timed(opencv_default, set_[i], bg, dt)], 1)

    best = OpencvBest(bg, dt, shift, stripes)
    reference = [best_blobs_once(bg, dt, shift, stripes, f) for f in set_]
    (r["best_us"],) = run_loop(n, lambda i: [timed(best, set_[i])], 1)
    # Its background must not have learned the frames.
    for f, want in zip(set_, reference):
        got = blobs_from_opencv(*best(f))
        if diff_blobs(want, got, temps=False):
            sys.exit("OpenCV best: the background learned the frames during the loop")

    # Stages, in pipeline order, each timed alone.
    st = OpencvBest(bg, dt, shift, stripes)
    bgf_whole = bg.astype(np.float32)

    def stages(i):
        p = set_[i]
        t_mask = timed(st.mask, p)
        t_def = timed(cv2.connectedComponentsWithStats, st.hot)
        t_bbdt = timed(st.label, st.hot, cv2.CCL_BBDT)
        t_bbdt_ns = timed(
            cv2.connectedComponentsWithAlgorithm, st.hot, 8, cv2.CV_32S, cv2.CCL_BBDT, st.labels
        )
        t_spag = timed(st.label, st.hot, cv2.CCL_SPAGHETTI)
        t_sauf = timed(st.label, st.hot, cv2.CCL_SAUF)
        t_bg = timed(st.background, p)
        t_whole = timed(cv2.accumulateWeighted, p, bgf_whole, 2.0**-shift)
        return [t_mask, t_def, t_bbdt, t_bbdt_ns, t_spag, t_sauf, t_bg, t_whole]

    (
        r["mask_us"],
        r["ccl_default_us"],
        r["ccl_bbdt_us"],
        r["ccl_bbdt_no_stats_us"],
        r["ccl_spaghetti_us"],
        r["ccl_sauf_us"],
        r["bg_stripe_us"],
        r["bg_whole_frame_us"],
    ) = run_loop(n, stages, 8)
    (r["floor_cv_us"],) = run_loop(n, lambda i: [timed(cv2.sumElems, set_[i])], 1)
    return r


def best_blobs_once(bg, dt, shift, stripes, f):
    return blobs_from_opencv(*OpencvBest(bg, dt, shift, stripes)(f))


# ---------------------------------------------------------------- main


def main():
    out_dir = sys.argv[1]
    cv2.setNumThreads(1)
    cv2.setUseOptimized(True)
    names, frames, dt, shift, stripes = read_frames(os.path.join(out_dir, "frames.bin"))
    bg = np.ascontiguousarray(frames[0])
    print(
        f"OpenCV {cv2.__version__} (threads: {cv2.getNumThreads()}), numpy {np.__version__}, "
        f"Python {platform.python_version()}; affinity {sorted(os.sched_getaffinity(0))}",
        flush=True,
    )
    print(f"checking {len(frames) - 1} frames: masks and blobs, Rampart vs OpenCV ...", flush=True)
    ok, err = check(names, frames, dt, shift, stripes, out_dir)
    if err:
        print("MISMATCH: Rampart and OpenCV do not agree; no speed-up printed.", file=sys.stderr)
        print(err, file=sys.stderr)
        sys.exit(1)
    rust, per_frame = ok
    print("check passed: same mask, same blobs (area, bbox, centroid, min/max/mean temperature) on every frame", flush=True)

    # The cost of one call from Python into OpenCV, for scale.
    tiny_a, tiny_b = np.ones((1, 8), np.uint16), np.ones((1, 8), np.uint16)
    tiny_d = np.empty_like(tiny_a)
    (call_us,) = run_loop(1, lambda i: [timed(cv2.absdiff, tiny_a, tiny_b, tiny_d)], 1)

    rows = []
    for case in CASES:
        for mode in ["warm", "cold"]:
            if mode == "warm":
                keys = [f"warm/{case}"]
            else:
                keys = sorted(k for k in names if k.startswith(f"cold/{case}/"))
            idx = [names.index(k) for k in keys]
            print(f"timing OpenCV {mode}/{case} ({len(idx)} frames) ...", flush=True)
            r = time_case(frames, idx, bg, dt, shift, stripes)
            r.update(rust["timings"][f"{mode}/{case}"])
            r["blobs"] = statistics.mean(per_frame[k][0] for k in keys)
            r["hot_px"] = statistics.mean(per_frame[k][1] for k in keys)
            rows.append((mode, case, r))

    def f1(x):
        return f"{x:.1f}" if x < 1000 else f"{x:.0f}"

    lines = []
    lines.append("### Whole pipeline, median µs per frame (ratios: time ÷ Rampart's)")
    lines.append("")
    lines.append(
        "| Case | Blobs | Hot px | Rampart | OpenCV default | OpenCV best "
        "| Floor (Rust) | Floor (cv2.sumElems) | default ÷ Rampart | best ÷ Rampart | Rampart ÷ floor |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode, case, r in rows:
        lines.append(
            f"| {mode} {case} | {r['blobs']:.0f} | {r['hot_px']:.0f} | {f1(r['kernel_us'])} "
            f"| {f1(r['default_us'])} | {f1(r['best_us'])} | {f1(r['floor_us'])} | {f1(r['floor_cv_us'])} "
            f"| {r['default_us'] / r['kernel_us']:.1f}× | {r['best_us'] / r['kernel_us']:.1f}× "
            f"| {r['kernel_us'] / r['floor_us']:.1f}× |"
        )
    lines.append("")
    lines.append("### Stages, median µs per frame (each timed alone, in pipeline order)")
    lines.append("")
    lines.append(
        "| Case | R threshold | R label + stats | R bg stripe | CV mask | CV CCL default "
        "| CV BBDT | CV BBDT, no stats | CV Spaghetti | CV SAUF | CV bg stripe | CV bg whole frame |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode, case, r in rows:
        lines.append(
            f"| {mode} {case} | {f1(r['threshold_us'])} | {f1(r['label_us'])} | {f1(r['background_us'])} "
            f"| {f1(r['mask_us'])} | {f1(r['ccl_default_us'])} | {f1(r['ccl_bbdt_us'])} "
            f"| {f1(r['ccl_bbdt_no_stats_us'])} "
            f"| {f1(r['ccl_spaghetti_us'])} | {f1(r['ccl_sauf_us'])} | {f1(r['bg_stripe_us'])} "
            f"| {f1(r['bg_whole_frame_us'])} |"
        )
    lines.append("")
    lines.append(f"One call from Python into OpenCV (cv2.absdiff on 8 pixels): {call_us:.2f} µs median.")
    table = "\n".join(lines)
    print()
    print(table)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({f"{m}/{c}": r for m, c, r in rows}, f, indent=1)
    r = next(r for m, c, r in rows if m == "warm" and c == "1%")
    print()
    print(
        f"RESULT rampart_us={r['kernel_us']:.1f} opencv_default_us={r['default_us']:.1f} "
        f"opencv_best_us={r['best_us']:.1f} floor_us={r['floor_us']:.1f}"
    )


if __name__ == "__main__":
    main()
