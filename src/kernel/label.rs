//! Stage 3: 8-connected component labelling with per-blob statistics.
//!
//! Works on runs of set bits rather than pixels: each row's runs are found
//! with `trailing_zeros` on the mask words, runs touching a run of the row
//! above (8-connectivity: overlapping or diagonal) are joined in a
//! union-find, and statistics are summed per run. Only hot pixels are read
//! back (for their temperatures), so the cost follows the number of runs and
//! hot pixels, not the frame size. All buffers are kept between frames.

use super::BBox;

/// One connected group of hot pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blob {
    /// Number of pixels.
    pub area: u32,
    /// Bounding box, inclusive.
    pub bbox: BBox,
    /// Centroid in pixel coordinates (pixel (i, j) has its centre at
    /// (i + 0.5, j + 0.5)).
    pub cx: f64,
    pub cy: f64,
    /// Coldest, warmest and mean temperature of its pixels (centikelvin).
    pub t_min: u16,
    pub t_max: u16,
    pub t_mean: f64,
    /// Mean background under its pixels (centikelvin).
    pub bg_mean: f64,
}

impl Blob {
    /// Mean temperature minus mean background: positive for a warm blob,
    /// negative for a cold one (centikelvin).
    pub fn contrast(&self) -> f64 {
        self.t_mean - self.bg_mean
    }

    /// The foot point: the bottom centre of the bounding box, in pixel
    /// coordinates (the bottom edge of the lowest row).
    pub fn foot(&self) -> (f64, f64) {
        (
            (f64::from(self.bbox.x0) + f64::from(self.bbox.x1) + 1.0) / 2.0,
            f64::from(self.bbox.y1) + 1.0,
        )
    }

    /// Width and height of the bounding box in pixels.
    pub fn size_px(&self) -> (u32, u32) {
        (
            self.bbox.x1 - self.bbox.x0 + 1,
            self.bbox.y1 - self.bbox.y0 + 1,
        )
    }
}

/// A run of hot pixels in one row, inclusive bounds.
#[derive(Debug, Clone, Copy)]
struct Run {
    y: u32,
    x0: u32,
    x1: u32,
}

/// Sums for one blob while labelling.
#[derive(Debug, Clone, Copy)]
struct Acc {
    area: u64,
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    /// Sum of (2x + 1) and (2y + 1) over pixels: twice the pixel-centre sums.
    sx2: u64,
    sy2: u64,
    t_min: u16,
    t_max: u16,
    t_sum: u64,
    bg_sum: u64,
}

impl Acc {
    fn new(r: &Run) -> Self {
        Self {
            area: 0,
            x0: r.x0,
            y0: r.y,
            x1: r.x1,
            y1: r.y,
            sx2: 0,
            sy2: 0,
            t_min: u16::MAX,
            t_max: 0,
            t_sum: 0,
            bg_sum: 0,
        }
    }
}

/// The labeller and its reusable buffers.
#[derive(Debug, Clone, Default)]
pub struct Labeller {
    runs: Vec<Run>,
    parent: Vec<u32>,
    blob_of_root: Vec<u32>,
    acc: Vec<Acc>,
    blobs: Vec<Blob>,
}

impl Labeller {
    /// Forgets the last result.
    pub fn clear(&mut self) {
        self.runs.clear();
        self.blobs.clear();
    }

    /// The blobs of the last call to [`Labeller::label`], in raster order of
    /// their first pixel (top row first, then left to right).
    pub fn blobs(&self) -> &[Blob] {
        &self.blobs
    }

    /// Number of runs found in the last call (for benchmarks and tests).
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Labels `mask` (`words_per_row` words a row, `height` rows) and
    /// measures each blob with the temperatures in `pixels` and the
    /// `background` (both row-major, `width` a row).
    pub fn label(
        &mut self,
        mask: &[u64],
        words_per_row: usize,
        width: usize,
        height: usize,
        pixels: &[u16],
        background: &[u16],
    ) {
        self.runs.clear();
        self.parent.clear();
        self.blobs.clear();
        let mut prev = 0..0;
        for y in 0..height {
            let start = self.runs.len();
            let words = &mask[y * words_per_row..(y + 1) * words_per_row];
            extract_runs(words, y as u32, &mut self.runs);
            let cur = start..self.runs.len();
            self.parent.extend(cur.clone().map(|i| i as u32));
            self.join_rows(prev, cur.clone());
            prev = cur;
        }
        self.measure(width, pixels, background);
    }

    /// Joins each run of the current row with the runs of the previous row
    /// it touches (including diagonally). Both rows are sorted by x.
    fn join_rows(&mut self, prev: std::ops::Range<usize>, cur: std::ops::Range<usize>) {
        if prev.is_empty() {
            return;
        }
        let mut p = prev.start;
        for c in cur {
            let (cx0, cx1) = (self.runs[c].x0, self.runs[c].x1);
            // Skip runs of the row above that end left of this run's reach.
            while p < prev.end && self.runs[p].x1 + 1 < cx0 {
                p += 1;
            }
            let mut q = p;
            while q < prev.end && self.runs[q].x0 <= cx1 + 1 {
                self.union(c as u32, q as u32);
                q += 1;
            }
        }
    }

    fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let grand = self.parent[self.parent[i as usize] as usize];
            self.parent[i as usize] = grand;
            i = grand;
        }
        i
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The older run is the root: roots stay the first run of a blob.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }

    fn measure(&mut self, width: usize, pixels: &[u16], background: &[u16]) {
        const NONE: u32 = u32::MAX;
        self.blob_of_root.clear();
        self.blob_of_root.resize(self.runs.len(), NONE);
        self.acc.clear();
        for i in 0..self.runs.len() {
            let root = self.find(i as u32) as usize;
            let run = self.runs[i];
            let b = match self.blob_of_root[root] {
                NONE => {
                    self.blob_of_root[root] = self.acc.len() as u32;
                    self.acc.push(Acc::new(&run));
                    self.acc.len() - 1
                }
                b => b as usize,
            };
            let a = &mut self.acc[b];
            let len = u64::from(run.x1 - run.x0 + 1);
            a.area += len;
            a.x0 = a.x0.min(run.x0);
            a.x1 = a.x1.max(run.x1);
            a.y0 = a.y0.min(run.y);
            a.y1 = a.y1.max(run.y);
            // Σ(2x+1) for x in x0..=x1 = len × (x0 + x1 + 1).
            a.sx2 += len * u64::from(run.x0 + run.x1 + 1);
            a.sy2 += len * (2 * u64::from(run.y) + 1);
            let row = run.y as usize * width;
            let px = &pixels[row + run.x0 as usize..=row + run.x1 as usize];
            let bg = &background[row + run.x0 as usize..=row + run.x1 as usize];
            for (&p, &g) in px.iter().zip(bg) {
                a.t_min = a.t_min.min(p);
                a.t_max = a.t_max.max(p);
                a.t_sum += u64::from(p);
                a.bg_sum += u64::from(g);
            }
        }
        self.blobs.extend(self.acc.iter().map(|a| {
            let n = a.area as f64;
            Blob {
                area: a.area as u32,
                bbox: BBox {
                    x0: a.x0,
                    y0: a.y0,
                    x1: a.x1,
                    y1: a.y1,
                },
                cx: a.sx2 as f64 / (2.0 * n),
                cy: a.sy2 as f64 / (2.0 * n),
                t_min: a.t_min,
                t_max: a.t_max,
                t_mean: a.t_sum as f64 / n,
                bg_mean: a.bg_sum as f64 / n,
            }
        }));
    }
}

/// Appends the runs of set bits in one row's mask words.
fn extract_runs(words: &[u64], y: u32, runs: &mut Vec<Run>) {
    let n = words.len();
    let mut wi = 0;
    let mut cur = match words.first() {
        Some(&w) => w,
        None => return,
    };
    loop {
        while cur == 0 {
            wi += 1;
            if wi == n {
                return;
            }
            cur = words[wi];
        }
        let start = wi * 64 + cur.trailing_zeros() as usize;
        // Zeros at or after the start bit, in this word and the next ones.
        let mut zeros = !cur & (u64::MAX << (start % 64));
        while zeros == 0 {
            wi += 1;
            if wi == n {
                runs.push(Run {
                    y,
                    x0: start as u32,
                    x1: (n * 64 - 1) as u32,
                });
                return;
            }
            zeros = !words[wi];
        }
        let end = wi * 64 + zeros.trailing_zeros() as usize;
        runs.push(Run {
            y,
            x0: start as u32,
            x1: (end - 1) as u32,
        });
        cur = words[wi] & (u64::MAX << (end % 64));
    }
}
