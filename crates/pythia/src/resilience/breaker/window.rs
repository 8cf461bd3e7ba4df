//! The sliding window of recent call outcomes behind rate-based tripping.

use std::collections::VecDeque;

/// The last `capacity` calls: whether each failed and whether it was slow.
#[derive(Debug)]
pub(crate) struct Window {
    calls: VecDeque<(bool, bool)>,
    capacity: usize,
    failures: usize,
    slow: usize,
}

impl Window {
    pub(crate) fn new(capacity: usize) -> Self {
        Window {
            calls: VecDeque::with_capacity(capacity),
            capacity,
            failures: 0,
            slow: 0,
        }
    }

    pub(crate) fn record(&mut self, failed: bool, slow: bool) {
        if self.calls.len() == self.capacity {
            if let Some((old_failed, old_slow)) = self.calls.pop_front() {
                self.failures -= usize::from(old_failed);
                self.slow -= usize::from(old_slow);
            }
        }
        self.calls.push_back((failed, slow));
        self.failures += usize::from(failed);
        self.slow += usize::from(slow);
    }

    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }

    pub(crate) fn failure_rate(&self) -> f64 {
        ratio(self.failures, self.calls.len())
    }

    pub(crate) fn slow_rate(&self) -> f64 {
        ratio(self.slow, self.calls.len())
    }

    pub(crate) fn clear(&mut self) {
        self.calls.clear();
        self.failures = 0;
        self.slow = 0;
    }
}

#[allow(clippy::cast_precision_loss)] // window sizes are far below 2^52
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_calls_slide_out_of_the_window() {
        let mut window = Window::new(4);

        (0..4).for_each(|_| window.record(true, true));
        (0..3).for_each(|_| window.record(false, false));

        assert_eq!(window.len(), 4);
        assert!((window.failure_rate() - 0.25).abs() < 1e-9);
        assert!((window.slow_rate() - 0.25).abs() < 1e-9);
    }
}
