//! Latency figures for benchmarks: percentiles of recorded durations.

use std::time::Duration;

/// Durations of requests, sorted.
#[derive(Debug)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut recorded: Vec<Duration>) -> Self {
        recorded.sort_unstable();
        Self(recorded)
    }

    /// How many were recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The duration that a share `p` (0 to 1) of requests stayed within
    /// (nearest rank); zero when nothing was recorded.
    pub fn percentile(&self, p: f64) -> Duration {
        let Some(last) = self.0.len().checked_sub(1) else {
            return Duration::ZERO;
        };
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a rank within the recorded count"
        )]
        let rank = ((last as f64) * p.clamp(0.0, 1.0)).round() as usize;
        self.0[rank]
    }

    /// "p50 … ms, p99 … ms".
    pub fn summary(&self) -> String {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms",
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let latencies = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(latencies.percentile(0.5), Duration::from_millis(51));
        assert_eq!(latencies.percentile(0.99), Duration::from_millis(99));
        assert_eq!(latencies.percentile(1.0), Duration::from_millis(100));
        assert_eq!(Latencies::new(Vec::new()).percentile(0.5), Duration::ZERO);
    }
}
