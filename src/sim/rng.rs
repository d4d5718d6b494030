//! A small deterministic random generator (SplitMix64), so a scenario run
//! with a given seed produces the same sentences on every machine and with
//! every version of every crate.

/// SplitMix64 with a normal-distribution helper.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`, further keyed by `stream` (a device id) so
    /// that devices get independent sequences.
    pub fn new(seed: u64, stream: &str) -> Self {
        // FNV-1a of the stream name, mixed with the seed.
        let h = stream.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Self(seed ^ h)
    }

    /// A generator for draw `n` of a keyed stream: the same `(seed,
    /// stream, n)` always gives the same numbers, whoever asks and in
    /// whatever order (used for what several devices must agree on, such as
    /// how hard a climber shakes the fence at one step).
    pub fn keyed(seed: u64, stream: &str, n: u64) -> Self {
        Self::new(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15), stream)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Normal with the given mean and standard deviation (Box–Muller).
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_stream_same_numbers() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7, "fence-c01");
            (0..5).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(7, "fence-c01");
        assert_eq!(a, (0..5).map(|_| r.next_u64()).collect::<Vec<_>>());
        let mut other = Rng::new(7, "fence-c02");
        assert_ne!(a[0], other.next_u64());
    }

    #[test]
    fn normal_has_roughly_the_asked_moments() {
        let mut r = Rng::new(1, "x");
        let xs: Vec<f64> = (0..20_000).map(|_| r.normal(10.0, 2.0)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!((mean - 10.0).abs() < 0.1, "mean {mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.1, "sd {}", var.sqrt());
    }
}
