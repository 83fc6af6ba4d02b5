//! Shared by the benchmarks: a fixed-concurrency rate measurement.

use std::time::{Duration, Instant};

/// Concurrent workers in every rate measurement.
pub const CONCURRENCY: usize = 64;

/// Operations per second: `CONCURRENCY` workers run `operation` back to back for `duration`
/// after a one-second warm-up; only successes count.
pub async fn rate<F, Fut>(duration: Duration, operation: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = bool> + Send,
{
    let measure_from = Instant::now() + Duration::from_secs(1);
    let end = measure_from + duration;
    let mut workers = Vec::new();
    for worker in 0..CONCURRENCY {
        let operation = operation.clone();
        workers.push(tokio::spawn(async move {
            let mut ok = 0u64;
            while Instant::now() < end {
                let counted = Instant::now() >= measure_from;
                if operation(worker).await && counted {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap_or(0);
    }
    total as f64 / duration.as_secs_f64()
}
