//! The scheduler: one runs in every dispatcher. Each looks at every scheduled function when
//! its next tick is due (at least every second), plans its ticks ([`crate::plan`]) and runs
//! each as an ordinary async job whose call id is derived from the function and the tick
//! ([`tick_call_id`]): a tick already recorded is not published again, and a publish repeated
//! by another scheduler is the same message (JetStream's deduplication), so a tick is one job
//! whatever the number of schedulers. Where each schedule stands is in `sy_schedules`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use switchyard_broker::cache::KvCache;
use switchyard_broker::errors::error_chain;
use switchyard_broker::invocation::Invocation;
use switchyard_broker::jobs::{JobRecord, JobStatus, JobStore};
use switchyard_broker::records::{tick_call_id, FunctionSpec, ScheduleState, TickOutcome};
use switchyard_broker::streams;
use switchyard_broker::table::{CachedTable, TableError};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::plan::plan;
use crate::spec::{Overlap, ScheduleSpec};

/// The longest the scheduler sleeps: a schedule deployed or resumed meanwhile is seen within.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Headers a tick's job carries to the function.
pub const SCHEDULED_FOR_HEADER: &str = "X-Scheduled-For";
pub const FIRED_AT_HEADER: &str = "X-Fired-At";
/// The annotation naming where a tick's job's answer is POSTed.
pub const CALLBACK_ANNOTATION: &str = "com.switchyard.schedule.callback-url";

/// What the scheduler needs.
pub struct Scheduler {
    pub js: async_nats::jetstream::Context,
    pub registry: KvCache<FunctionSpec>,
    pub states: CachedTable<ScheduleState>,
    pub jobs: JobStore,
    /// A tick looked at this long after its instant was missed.
    pub misfire_after: Duration,
    /// Missed ticks run at most for `com.switchyard.schedule.misfire: all`.
    pub max_catch_up: usize,
}

#[derive(Debug, thiserror::Error)]
enum TickError {
    /// The schedule's state or a job record (both key-value tables).
    #[error("schedule state or job record not read or written")]
    Store(#[from] TableError),
    #[error("job not stored")]
    Publish(#[from] streams::PublishFailed),
}

impl Scheduler {
    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let next = self.round(Utc::now()).await;
            let wait = (next - Utc::now())
                .to_std()
                .unwrap_or_default()
                .min(LOOK_EVERY);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => break,
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// Handles every scheduled function's due ticks; returns when the next one is due.
    async fn round(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let scheduled: Vec<(String, ScheduleSpec)> = self.registry.read(|functions| {
            functions
                .iter()
                .filter_map(|(id, spec)| {
                    let schedule = ScheduleSpec::of(spec.deployment.annotations.as_ref())?.ok()?;
                    Some((id.clone(), schedule))
                })
                .collect()
        });
        let mut next = now + chrono::Duration::from_std(LOOK_EVERY).unwrap_or_default();
        for (function, spec) in scheduled {
            let span = tracing::info_span!("schedule", function = %function);
            match self.handle(&function, &spec, now).instrument(span.clone()).await {
                Ok(Some(due)) => next = next.min(due),
                Ok(None) => {}
                Err(error) => {
                    span.in_scope(|| tracing::warn!(error = %error_chain(&error), "ticks not handled; next round tries again"))
                }
            }
        }
        next
    }

    /// One function's due ticks; when its next tick is due.
    async fn handle(
        &self,
        function: &str,
        spec: &ScheduleSpec,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, TickError> {
        let mut state = match self.states.get(function) {
            Some(state) => state,
            None => {
                let fresh = ScheduleState::new(function, now);
                match self.states.create(function, &fresh).await {
                    Ok(()) | Err(TableError::Exists { .. }) => {}
                    Err(error) => return Err(error.into()),
                }
                self.states.fetch(function).await?.unwrap_or(fresh)
            }
        };
        if state.paused {
            return Ok(None);
        }
        if let Some(tick) = state.queued_tick {
            if self.previous_running(&state).await? {
                return Ok(Some(now + chrono::Duration::seconds(1)));
            }
            let call_id = self.fire(function, spec, tick, now).await?;
            state = self
                .record(function, |s| ScheduleState {
                    queued_tick: None,
                    last_outcome: Some(TickOutcome::Fired),
                    last_call_id: Some(call_id.clone()),
                    ..s
                })
                .await?;
        }
        let planned = plan(
            &spec.schedule,
            spec.misfire,
            state.handled_until(),
            now,
            self.misfire_after,
            self.max_catch_up,
        );
        if planned.missed > 0 {
            tracing::info!(
                missed = planned.missed,
                "ticks missed while nothing ran the schedule; left out by its misfire policy"
            );
        }
        for tick in planned.fire.iter().copied() {
            let outcome = if spec.overlap != Overlap::Allow && self.previous_running(&state).await?
            {
                if spec.overlap == Overlap::Queue && state.queued_tick.is_none() {
                    tracing::info!(%tick, "previous tick's job still runs; this one waits for it");
                    state = self
                        .record(function, |s| ScheduleState {
                            queued_tick: Some(tick),
                            last_tick: Some(tick),
                            ..s
                        })
                        .await?;
                    continue;
                }
                tracing::info!(%tick, "previous tick's job still runs; tick skipped");
                (TickOutcome::Skipped, state.last_call_id.clone())
            } else {
                (
                    TickOutcome::Fired,
                    Some(self.fire(function, spec, tick, now).await?),
                )
            };
            state = self
                .record(function, |s| ScheduleState {
                    last_tick: Some(tick.max(s.last_tick.unwrap_or(tick))),
                    last_outcome: Some(outcome.0),
                    last_call_id: outcome.1.clone(),
                    ..s
                })
                .await?;
        }
        if let Some(until) = planned.handled_until {
            if state.last_tick.is_none_or(|t| t < until) {
                state = self
                    .record(function, |s| ScheduleState {
                        last_tick: Some(until.max(s.last_tick.unwrap_or(until))),
                        last_outcome: Some(TickOutcome::Missed),
                        ..s
                    })
                    .await?;
            }
        }
        Ok(spec.schedule.next_after(state.handled_until().max(now)))
    }

    /// True while the job of the schedule's latest fired tick has not ended.
    async fn previous_running(&self, state: &ScheduleState) -> Result<bool, TickError> {
        let Some(call_id) = &state.last_call_id else {
            return Ok(false);
        };
        Ok(self.jobs.get(call_id).await?.is_some_and(|record| {
            matches!(
                record.status,
                JobStatus::Scheduled | JobStatus::Queued | JobStatus::Running
            )
        }))
    }

    /// Queues the job of `function`'s tick at `tick` (once, whoever else tries); its call id.
    async fn fire(
        &self,
        function: &str,
        spec: &ScheduleSpec,
        tick: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String, TickError> {
        let call_id = tick_call_id(function, tick);
        if self.jobs.get(&call_id).await?.is_some() {
            return Ok(call_id);
        }
        let callback_url = self
            .registry
            .get(function)
            .and_then(|f| f.annotation(CALLBACK_ANNOTATION).map(str::to_string));
        let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let invocation = Invocation {
            call_id: call_id.clone(),
            function: function.to_string(),
            method: "POST".into(),
            path: "/".into(),
            query: None,
            content_type: None,
            headers: vec![
                (SCHEDULED_FOR_HEADER.to_string(), rfc3339(tick)),
                (FIRED_AT_HEADER.to_string(), rfc3339(now)),
            ],
            body: bytes::Bytes::from(spec.data.clone()),
            time: now,
            callback_url: callback_url.clone(),
            subscription: None,
            hops: 0,
        };
        let (subject, headers, payload) = invocation.to_stored_message();
        streams::publish_acked(&self.js, subject, headers, payload).await?;
        let mut record = JobRecord::tick(&call_id, function, tick);
        record.callback_url = callback_url;
        self.jobs.create_queued(&record).await?;
        tracing::info!(call_id = %call_id, %tick, "tick fired");
        Ok(call_id)
    }

    async fn record(
        &self,
        function: &str,
        change: impl Fn(ScheduleState) -> ScheduleState,
    ) -> Result<ScheduleState, TableError> {
        self.states.modify(function, change).await
    }
}
