//! The one loop shape of every follower of KV buckets (job workers, the event router, the
//! providers, external endpoints, the vCenter supervisor): make things match the buckets now,
//! then again whenever a bucket changes, or after the wait the last round asked for.
//!
//! ```no_run
//! # async fn run(cache: switchyard_broker::cache::KvCache<String>, shutdown: tokio_util::sync::CancellationToken) {
//! use switchyard_broker::follow::Rounds;
//! let mut rounds = Rounds::new(vec![cache.changes()], &shutdown);
//! loop {
//!     // … make reality match `cache` …
//!     if !rounds.next(None).await {
//!         break;
//!     }
//! }
//! # }
//! ```

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// When the next round of a follower is due.
pub struct Rounds {
    changes: Vec<watch::Receiver<u64>>,
    shutdown: CancellationToken,
}

impl Rounds {
    /// Rounds driven by `changes` (see [`crate::cache::KvCache::changes`]) until `shutdown`.
    pub fn new(changes: Vec<watch::Receiver<u64>>, shutdown: &CancellationToken) -> Self {
        Rounds {
            changes,
            shutdown: shutdown.clone(),
        }
    }

    /// Waits until a bucket changed, or `delay` passed (`None`: only changes count); false when
    /// the follower must stop instead (shutdown, or a cache stopped).
    pub async fn next(&mut self, delay: Option<Duration>) -> bool {
        let changed = futures::future::select_all(
            self.changes
                .iter_mut()
                .map(|receiver| Box::pin(receiver.changed())),
        );
        let timer = async {
            match delay {
                Some(delay) => tokio::time::sleep(delay).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            (result, _, _) = changed => result.is_ok(),
            () = timer => true,
            () = self.shutdown.cancelled() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_round_is_due_on_a_change_on_its_delay_and_never_after_shutdown() {
        let (sender, receiver) = watch::channel(0u64);
        let shutdown = CancellationToken::new();
        let mut rounds = Rounds::new(vec![receiver], &shutdown);
        assert!(
            rounds.next(Some(Duration::from_millis(10))).await,
            "the delay"
        );
        let _ = sender.send(1);
        assert!(rounds.next(None).await, "a change");
        shutdown.cancel();
        assert!(
            !rounds.next(Some(Duration::from_secs(60))).await,
            "shutdown"
        );
        drop(sender);
        let (_, receiver) = watch::channel(0u64);
        let mut orphan = Rounds::new(vec![receiver], &CancellationToken::new());
        assert!(!orphan.next(None).await, "a cache that stopped");
    }
}
