//! Each retry strategy's delay sequence, and the bounds of each jitter, under a seeded RNG.

use std::time::Duration;

use pythia::resilience::{Jitter, RetryPolicy, RetryPolicyBuilder};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn delays(policy: &RetryPolicy) -> Vec<Duration> {
    let mut state = policy.start();
    std::iter::from_fn(|| state.next_delay(None)).collect()
}

fn exact(builder: RetryPolicyBuilder) -> Vec<Duration> {
    delays(&builder.jitter(Jitter::None).build().unwrap())
}

#[test]
fn fixed_waits_the_same_before_every_retry() {
    let builder = RetryPolicy::builder().fixed(ms(300)).max_attempts(4);

    assert_eq!(exact(builder), [ms(300), ms(300), ms(300)]);
}

#[test]
fn linear_adds_its_step_before_each_retry() {
    let builder = RetryPolicy::builder()
        .linear(ms(100), ms(200))
        .max_attempts(5);

    assert_eq!(exact(builder), [ms(100), ms(300), ms(500), ms(700)]);
}

#[test]
fn exponential_multiplies_by_its_base_and_stops_at_the_cap() {
    let builder = RetryPolicy::builder()
        .exponential(ms(1000), 2.0)
        .max_delay(ms(5000))
        .max_attempts(6);

    assert_eq!(
        exact(builder),
        [ms(1000), ms(2000), ms(4000), ms(5000), ms(5000)]
    );
}

#[test]
fn a_schedule_is_followed_in_order_and_capped() {
    let builder = RetryPolicy::builder()
        .schedule(vec![ms(10), ms(60_000), ms(500)])
        .max_delay(ms(1000));

    assert_eq!(exact(builder), [ms(10), ms(1000), ms(500)]);
}

#[test]
fn the_default_policy_makes_three_attempts_from_one_second() {
    let policy = RetryPolicy::default();

    assert_eq!(policy.max_attempts(), 3);
    assert_eq!(policy.jitter(), Jitter::Full);
    assert_eq!(policy.nominal_delay(0), Duration::from_secs(1));
    assert_eq!(policy.nominal_delay(1), Duration::from_secs(2));
}

/// Draws the delays of many requests of one seeded policy.
fn draws(jitter: Jitter, seed: u64) -> Vec<Vec<Duration>> {
    let policy = RetryPolicy::builder()
        .exponential(ms(100), 2.0)
        .max_delay(ms(1000))
        .max_attempts(6)
        .jitter(jitter)
        .seed(seed)
        .build()
        .unwrap();
    (0..300).map(|_| delays(&policy)).collect()
}

const NOMINAL: [u64; 5] = [100, 200, 400, 800, 1000];

#[test]
fn full_jitter_draws_between_zero_and_the_nominal_delay() {
    let all = draws(Jitter::Full, 11);

    for sequence in &all {
        for (delay, nominal) in sequence.iter().zip(NOMINAL) {
            assert!(*delay <= ms(nominal), "{delay:?} > {nominal} ms");
        }
    }
    let firsts: Vec<_> = all.iter().map(|s| s[0]).collect();
    assert!(firsts.iter().any(|d| *d < ms(10)), "reaches near zero");
    assert!(firsts.iter().any(|d| *d > ms(90)), "reaches near the top");
}

#[test]
fn equal_jitter_draws_between_half_and_all_of_the_nominal_delay() {
    let all = draws(Jitter::Equal, 12);

    for sequence in &all {
        for (delay, nominal) in sequence.iter().zip(NOMINAL) {
            assert!(
                *delay >= ms(nominal / 2) && *delay <= ms(nominal),
                "{delay:?}"
            );
        }
    }
    let lasts: Vec<_> = all.iter().map(|s| s[4]).collect();
    assert!(lasts.iter().any(|d| *d < ms(550)) && lasts.iter().any(|d| *d > ms(950)));
}

#[test]
fn decorrelated_jitter_draws_between_the_first_delay_and_three_times_the_previous() {
    let all = draws(Jitter::Decorrelated, 13);

    for sequence in &all {
        let mut previous = ms(100);
        for delay in sequence {
            assert!(*delay >= ms(100), "{delay:?}");
            assert!(
                *delay <= (previous * 3).min(ms(1000)),
                "{delay:?} after {previous:?}"
            );
            previous = *delay;
        }
    }
    assert!(all.iter().any(|s| s[4] > ms(800)), "grows towards the cap");
}

#[test]
fn no_jitter_is_exactly_the_nominal_delay() {
    let all = draws(Jitter::None, 14);

    let nominal: Vec<_> = NOMINAL.iter().map(|n| ms(*n)).collect();
    assert!(all.iter().all(|s| *s == nominal));
}

#[test]
fn the_same_seed_gives_the_same_delays_and_another_seed_others() {
    assert_eq!(draws(Jitter::Full, 21), draws(Jitter::Full, 21));
    assert_ne!(draws(Jitter::Full, 21), draws(Jitter::Full, 22));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_drops_a_retry_that_would_end_past_it() {
    let policy = RetryPolicy::builder()
        .fixed(Duration::from_secs(3))
        .jitter(Jitter::None)
        .max_attempts(50)
        .max_elapsed(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut state = policy.start();

    let mut waited = Vec::new();
    while let Some(delay) = state.next_delay(None) {
        tokio::time::sleep(delay).await;
        waited.push(delay);
    }

    assert_eq!(
        waited.len(),
        3,
        "3 + 3 + 3 = 9 s; a fourth would end at 12 s"
    );
}
