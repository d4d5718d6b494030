//! The statistics a score reports: an exact (Clopper–Pearson) confidence
//! interval for a detection probability, an upper bound for a rate seen
//! zero or more times, and percentiles.

/// The two-sided 95 % Clopper–Pearson interval for `successes` out of
/// `trials` (exact: it never claims more confidence than the data gives).
/// `(0, 1)` when there are no trials.
pub fn clopper_pearson_95(successes: u64, trials: u64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let (x, n) = (successes.min(trials), trials);
    let lower = if x == 0 {
        0.0
    } else {
        // The p at which seeing x or more has probability 2.5 %.
        bisect(|p| 1.0 - binomial_cdf(x - 1, n, p) - 0.025)
    };
    let upper = if x == n {
        1.0
    } else {
        // The p at which seeing x or fewer has probability 2.5 %.
        bisect(|p| 0.025 - binomial_cdf(x, n, p))
    };
    (lower, upper)
}

/// P(X ≤ k) for X ~ Binomial(n, p).
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if k >= n { 1.0 } else { 0.0 };
    }
    // Sum the pmf in log space to stay finite for large n.
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut log_pmf = n as f64 * lq; // k = 0
    let mut sum = log_pmf.exp();
    for i in 0..k.min(n) {
        log_pmf += ((n - i) as f64).ln() - ((i + 1) as f64).ln() + lp - lq;
        sum += log_pmf.exp();
    }
    sum.min(1.0)
}

/// The root in [0, 1] of an increasing function `f`, by bisection.
fn bisect(f: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..80 {
        let mid = (lo + hi) / 2.0;
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// The one-sided 95 % upper bound of a Poisson mean given `count` events
/// (exact; 2.996 for zero events, the "rule of three").
pub fn poisson_upper_95(count: u64) -> f64 {
    // P(X ≤ count | mean) = 5 % solved for the mean.
    let cdf = |mean: f64| {
        let mut term = (-mean).exp();
        let mut sum = term;
        for i in 1..=count {
            term *= mean / i as f64;
            sum += term;
        }
        sum
    };
    let (mut lo, mut hi) = (0.0f64, 10.0 + 10.0 * count as f64);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if cdf(mid) > 0.05 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// The `q` quantile (0 to 1) of `values` by the nearest-rank method: the
/// smallest value with at least q of them at or below it. `None` if empty.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_matches_published_values() {
        // Reference values (R: binom.test(x, n)$conf.int).
        let (lo, hi) = clopper_pearson_95(30, 30);
        assert!((lo - 0.8843).abs() < 1e-3 && hi == 1.0, "{lo} {hi}");
        let (lo, hi) = clopper_pearson_95(0, 10);
        assert!(lo == 0.0 && (hi - 0.3085).abs() < 1e-3, "{lo} {hi}");
        let (lo, hi) = clopper_pearson_95(45, 50);
        assert!(
            (lo - 0.7819).abs() < 1e-3 && (hi - 0.9667).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(clopper_pearson_95(0, 0), (0.0, 1.0));
    }

    #[test]
    fn poisson_upper_bound_is_the_rule_of_three_for_zero() {
        assert!((poisson_upper_95(0) - 2.9957).abs() < 1e-3);
        assert!((poisson_upper_95(1) - 4.7439).abs() < 1e-3);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(3.0));
        assert_eq!(percentile(&v, 0.99), Some(5.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn binomial_cdf_sums_to_one() {
        assert!((binomial_cdf(20, 20, 0.3) - 1.0).abs() < 1e-12);
        assert!((binomial_cdf(0, 3, 0.5) - 0.125).abs() < 1e-12);
    }
}
