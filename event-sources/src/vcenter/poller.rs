//! One vCenter source: log in, follow the event collector's `latestPage` with
//! WaitForUpdatesEx, store new events in key order, then move the checkpoint. Any failure
//! ends the session; the next one logs in again after a backoff and resumes from the
//! checkpoint, so a lost session, a restarted vCenter or a NATS outage loses nothing.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use switchyard_broker::backoff::Backoff;
use switchyard_broker::errors::error_chain;
use switchyard_broker::events;
use switchyard_broker::records::{SourceState, VcenterConfig, MAX_PAGE_SIZE};
use switchyard_broker::streams::{publish_acked_many, PublishFailed};
use tokio_util::sync::CancellationToken;

use super::checkpoint::{Checkpoint, CheckpointError, Checkpoints};
use super::event::{key_after, VsphereEvent};
use super::metrics::Metrics;
use super::soap::xml::Element;
use super::soap::{Client, ClientOptions, SoapError};
use super::status::StatusReport;

/// The most events a session reads back on start, against a server that never says "no more".
const MAX_BACKLOG: usize = 1_000_000;

/// Waits between sessions after a failure.
const RECONNECT: Backoff = Backoff {
    min: Duration::from_millis(500),
    max: Duration::from_secs(30),
};

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PollError {
    #[error(transparent)]
    Soap(#[from] SoapError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Publish(#[from] PublishFailed),
}

impl PollError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Soap(e) => e.kind().as_str(),
            Self::Checkpoint(_) => "checkpoint",
            Self::Publish(_) => "publish",
        }
    }
}

pub(crate) struct Poller {
    pub(crate) name: String,
    /// The source's namespace: its events belong to that namespace's organization.
    pub(crate) namespace: String,
    /// Where the SOAP client may connect.
    pub(crate) networks: switchyard_broker::networks::NetworkPolicy,
    pub(crate) config: VcenterConfig,
    pub(crate) js: jetstream::Context,
    pub(crate) checkpoints: Checkpoints,
    pub(crate) status: StatusReport,
    pub(crate) metrics: Metrics,
    pub(crate) shutdown: CancellationToken,
}

impl Poller {
    /// Runs sessions until shutdown, backing off after failures.
    pub(crate) async fn run(mut self) {
        let mut failures = 0u32;
        loop {
            self.status.state(SourceState::Starting).await;
            let error = match self.session(&mut failures).await {
                Ok(()) => break,
                Err(error) => error,
            };
            failures += 1;
            let kind = error.kind();
            self.metrics
                .errors
                .with_label_values(&[&self.name, kind])
                .inc();
            self.metrics
                .last_error
                .with_label_values(&[&self.name])
                .set(Utc::now().timestamp() as f64);
            let error = error_chain(&error);
            tracing::warn!(source = %self.name, %error, kind, failures, "vCenter session ended; logging in again");
            self.status.failed(&error).await;
            tokio::select! {
                () = tokio::time::sleep(RECONNECT.delay(failures)) => {}
                () = self.shutdown.cancelled() => break,
            }
            self.metrics
                .reconnects
                .with_label_values(&[&self.name])
                .inc();
            self.status.reconnected();
        }
        self.status.state(SourceState::Stopped).await;
        tracing::info!(source = %self.name, "vCenter poller stopped");
    }

    /// One session: ends with `Ok` only on shutdown.
    async fn session(&mut self, failures: &mut u32) -> Result<(), PollError> {
        let url = self
            .config
            .url
            .parse()
            .map_err(|e| SoapError::Config(format!("`url` `{}`: {e}", self.config.url)))?;
        let options = ClientOptions::new(url)
            .networks(self.networks.clone())
            .insecure(self.config.insecure)
            .ca_file(self.config.ca_file.as_ref().map(Into::into))
            .ca_pem(self.config.ca_pem.clone());
        let client = Client::connect(&options).await?;
        client
            .login(&self.config.username, &self.config.password)
            .await?;
        let result = self.follow(&client, failures).await;
        if !matches!(result, Err(PollError::Soap(SoapError::NotAuthenticated(_)))) {
            client.logout().await;
        }
        result
    }

    async fn follow(&mut self, client: &Client, failures: &mut u32) -> Result<(), PollError> {
        let now = client.current_time().await?;
        let mut checkpoint = match self.checkpoints.load().await? {
            Some(checkpoint) => checkpoint,
            None => {
                // Nothing stored yet: follow from now, and remember "now" for the next session.
                let start = Checkpoint {
                    key: None,
                    created_time: now,
                };
                self.checkpoints.save(&start).await?;
                start
            }
        };
        let oldest = replay_floor(now, self.config.replay_window());
        let begin = checkpoint.created_time.max(oldest);
        // Follow first, then read the backlog: an event in between is in both, and kept once.
        let collector = client.create_collector_for_events(Some(begin)).await?;
        client
            .set_collector_page_size(&collector, self.config.page_size())
            .await?;
        client.create_filter(&collector).await?;
        let (mut version, mut pages) = match client
            .wait_for_updates_ex("", self.config.poll_interval())
            .await?
        {
            Some(initial) => (initial.version, initial.pages),
            None => (String::new(), Vec::new()),
        };
        pages.push(self.backlog(client, begin).await?);
        tracing::info!(source = %self.name, from = %begin, checkpoint = ?checkpoint.key, "following vCenter events");
        self.status.state(SourceState::Running).await;
        *failures = 0;

        loop {
            let fresh = self.fresh_events(&pages, &checkpoint, oldest);
            if let Some(last) = fresh.last() {
                let last = Checkpoint::after(last);
                self.store(&fresh, &client.service_content().api_version)
                    .await?;
                self.checkpoints.save(&last).await?;
                self.status.published(fresh.len(), &last).await;
                checkpoint = last;
            }
            let update = tokio::select! {
                update = client.wait_for_updates_ex(&version, self.config.poll_interval()) => update?,
                () = self.shutdown.cancelled() => {
                    let _ = client.destroy_collector(&collector).await;
                    return Ok(());
                }
            };
            pages = match update {
                Some(update) => {
                    version = update.version;
                    update.pages
                }
                None => Vec::new(),
            };
            if may_have_missed(&pages, &checkpoint, self.config.page_size()) {
                // A server may coalesce page changes; read what fell between two pages.
                tracing::info!(source = %self.name, checkpoint = ?checkpoint.key, "a full page without known events: reading the gap");
                self.metrics
                    .backfills
                    .with_label_values(&[&self.name])
                    .inc();
                pages.push(self.backlog(client, checkpoint.created_time).await?);
            }
        }
    }

    /// Every event since `begin`, read through a collector of its own with ReadNextEvents
    /// (on vcsim: at most the last 1000 events, the simulator's whole history).
    async fn backlog(
        &self,
        client: &Client,
        begin: DateTime<Utc>,
    ) -> Result<Vec<Element>, SoapError> {
        let collector = client.create_collector_for_events(Some(begin)).await?;
        client
            .set_collector_page_size(&collector, MAX_PAGE_SIZE)
            .await?;
        let mut events = Vec::new();
        loop {
            let batch = client.read_next_events(&collector, MAX_PAGE_SIZE).await?;
            if batch.is_empty() || events.len() >= MAX_BACKLOG {
                break;
            }
            events.extend(batch);
        }
        let _ = client.destroy_collector(&collector).await;
        Ok(events)
    }

    /// The events of `pages` after the checkpoint, each once, in key order.
    fn fresh_events(
        &self,
        pages: &[Vec<Element>],
        checkpoint: &Checkpoint,
        oldest: DateTime<Utc>,
    ) -> Vec<VsphereEvent> {
        let mut fresh = HashMap::new();
        for element in pages.iter().flatten() {
            // Pages overlap: skip an event already taken before reading all of it.
            let key = element
                .child_text("key")
                .and_then(|k| k.trim().parse::<i32>().ok());
            if key.is_some_and(|k| {
                fresh.contains_key(&k) || checkpoint.key.is_some_and(|c| !key_after(k, c))
            }) {
                continue;
            }
            match VsphereEvent::from_element(element) {
                Ok(event) if checkpoint.precedes(&event, oldest) => {
                    fresh.insert(event.key, event);
                }
                Ok(_) => {}
                Err(unreadable) => {
                    self.metrics
                        .errors
                        .with_label_values(&[&self.name, "unreadable_event"])
                        .inc();
                    tracing::debug!(source = %self.name, %unreadable, "event skipped");
                }
            }
        }
        self.metrics
            .read
            .with_label_values(&[&self.name])
            .inc_by(fresh.len() as u64);
        // Keys wrap, so they are ordered by their distance from a key before all of them: the
        // checkpoint, or before any checkpoint, one far below the first.
        let reference = checkpoint
            .key
            .or_else(|| fresh.keys().next().map(|k| k.wrapping_sub(1 << 30)));
        let mut ordered: Vec<VsphereEvent> = fresh.into_values().collect();
        if let Some(reference) = reference {
            ordered.sort_by_key(|e| e.key.wrapping_sub(reference));
        }
        ordered
    }

    /// Stores events in order, each with a deduplication id from (source, key): a replay after a
    /// crash between storing and checkpointing is dropped by JetStream as a duplicate.
    async fn store(&self, fresh: &[VsphereEvent], api_version: &str) -> Result<(), PublishFailed> {
        let messages: Vec<_> = fresh
            .iter()
            .map(|event| {
                events::to_stored_message(
                    &self.name,
                    &self.namespace,
                    &event.to_cloudevent(
                        &self.config.url,
                        api_version,
                        self.config.payload_encoding,
                    ),
                )
            })
            .collect();
        publish_acked_many(&self.js, messages).await?;
        let lag = Utc::now()
            - fresh
                .last()
                .map(|e| e.created_time)
                .unwrap_or_else(Utc::now);
        self.metrics
            .lag_of(&self.name)
            .set(lag.num_milliseconds() as f64 / 1000.0);
        self.metrics
            .published
            .with_label_values(&[&self.name])
            .inc_by(fresh.len() as u64);
        Ok(())
    }
}

/// Whether a full page holds only events after the checkpoint: then events between the
/// checkpoint and that page may never have been on any page this session saw.
fn may_have_missed(pages: &[Vec<Element>], checkpoint: &Checkpoint, page_size: u32) -> bool {
    let Some(known) = checkpoint.key else {
        return false;
    };
    pages.iter().any(|page| {
        page.len() >= page_size as usize
            && page
                .iter()
                .filter_map(|e| e.child_text("key")?.trim().parse::<i32>().ok())
                .all(|key| key_after(key, known))
    })
}

/// The oldest creation time a session replays.
fn replay_floor(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(window)
        .ok()
        .and_then(|w| now.checked_sub_signed(w))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(keys: &[i32]) -> Vec<Element> {
        keys.iter()
            .map(|key| Element {
                name: "Event".into(),
                children: vec![Element {
                    name: "key".into(),
                    text: key.to_string(),
                    ..Element::default()
                }],
                ..Element::default()
            })
            .collect()
    }

    #[test]
    fn a_full_page_of_unseen_events_may_hide_a_gap() {
        let at = Utc::now();
        let seen = Checkpoint {
            key: Some(10),
            created_time: at,
        };
        assert!(
            may_have_missed(&[page(&[13, 12, 11])], &seen, 3),
            "full, none known"
        );
        assert!(
            !may_have_missed(&[page(&[12, 11, 10])], &seen, 3),
            "overlaps the checkpoint"
        );
        assert!(
            !may_have_missed(&[page(&[12, 11])], &seen, 3),
            "not full: all events since begin"
        );
        let fresh = Checkpoint {
            key: None,
            created_time: at,
        };
        assert!(
            !may_have_missed(&[page(&[3, 2, 1])], &fresh, 3),
            "nothing seen yet"
        );
        let wrapped = Checkpoint {
            key: Some(i32::MAX),
            created_time: at,
        };
        assert!(may_have_missed(
            &[page(&[i32::MIN + 1, i32::MIN])],
            &wrapped,
            2
        ));
    }
}
