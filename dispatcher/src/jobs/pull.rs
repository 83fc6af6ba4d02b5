//! Taking messages off a durable pull consumer with bounded concurrency.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, Consumer};
use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use switchyard_broker::backoff::Backoff;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// How long one fetch waits for messages before asking again.
const FETCH_WAIT: Duration = Duration::from_secs(2);
/// The same, for a consumer that is left once drained: short, so that a function whose queue
/// is empty gives its place up soon.
const DRAINING_FETCH_WAIT: Duration = Duration::from_millis(500);
const ERROR_PAUSE: Duration = Duration::from_millis(500);
/// How much longer than `FETCH_WAIT` a batch may stay silent before it is given up: a pull
/// request lost with its server (a cluster node stopping) is never answered, and waiting for
/// it would stop this consumer for good.
const FETCH_SLACK: Duration = Duration::from_secs(3);

/// How long a consumer may leave every fetch unanswered before it is said, at warn level, and
/// the consumer opened again: after a cluster node is lost, pull requests can go unanswered
/// for good (the request went to the node that held the consumer's leader, or the client
/// reconnected in between and the server dropped the request's interest), and a consumer
/// looked up again is asked through its current leader.
const SILENCE_LIMIT: Duration = Duration::from_secs(30);

/// How long to wait before trying to open a consumer again: a quarter second doubling to five,
/// so that a consumer the server refuses is not retried in a tight loop, and one whose NATS
/// was away for a few seconds is open again soon after it is back.
const OPEN_RETRY: Backoff = Backoff {
    min: Duration::from_millis(250),
    max: Duration::from_secs(5),
};

/// Opens a consumer with `open`, trying again after a growing wait until it works; `None` when
/// `stop` fires first. `what` names the consumer in the log: a warning the first time and every
/// tenth time, so that many refused consumers do not flood it.
pub(crate) async fn open_with_retry<F, Fut, C, E>(
    what: &str,
    stop: &CancellationToken,
    open: F,
) -> Option<C>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<C, E>>,
    E: std::fmt::Display,
{
    let mut failures = 0u32;
    loop {
        match open().await {
            Ok(consumer) => return Some(consumer),
            Err(error) => {
                failures = failures.saturating_add(1);
                if failures % 10 == 1 {
                    tracing::warn!(%error, consumer = what, failures, "cannot open the consumer; retrying");
                } else {
                    tracing::debug!(%error, consumer = what, failures, "cannot open the consumer; retrying");
                }
                tokio::select! {
                    () = tokio::time::sleep(OPEN_RETRY.delay(failures)) => {}
                    () = stop.cancelled() => return None,
                }
            }
        }
    }
}

/// Why [`consume_until`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// `stop` fired.
    Asked,
    /// The consumer had nothing left: no message waiting, none unacknowledged.
    Drained,
    /// The consumer answered no fetch for [`SILENCE_LIMIT`]: open it again.
    Silent,
}

/// How much one consumer's messages may occupy: `slots` for the scarce part of handling one
/// (a call to a function), and `tasks` for the whole of it (the bookkeeping after the call
/// too), so that the next call need not wait for the last one's records to be written. Shared
/// by the consumers opened one after another for the same work, so that the limits hold
/// across them.
#[derive(Clone)]
pub(crate) struct Capacity {
    slots: Arc<Semaphore>,
    tasks: Arc<Semaphore>,
    total_tasks: usize,
}

impl Capacity {
    /// At most `slots` messages in their scarce part, and `tasks` (at least as many) in all.
    pub(crate) fn new(slots: usize, tasks: usize) -> Self {
        let slots = slots.max(1);
        let tasks = tasks.max(slots);
        Capacity {
            slots: Arc::new(Semaphore::new(slots)),
            tasks: Arc::new(Semaphore::new(tasks)),
            total_tasks: tasks,
        }
    }

    /// A slot and a task; `None` once closed (never). The slot is taken first: a message is
    /// fetched only when it can start at once.
    async fn acquire(&self) -> Option<(Slot, OwnedSemaphorePermit)> {
        let slot = self.slots.clone().acquire_owned().await.ok()?;
        let task = self.tasks.clone().acquire_owned().await.ok()?;
        Some((Slot(Some(slot)), task))
    }

    /// Messages that could be taken now.
    fn room(&self) -> usize {
        self.slots
            .available_permits()
            .min(self.tasks.available_permits())
    }

    fn idle(&self) -> bool {
        self.tasks.available_permits() == self.total_tasks
    }

    /// Waits up to `grace` until nothing is in flight.
    pub(crate) async fn wait_idle(&self, grace: Duration) {
        let in_flight = self.total_tasks - self.tasks.available_permits();
        if in_flight == 0 {
            return;
        }
        tracing::info!(in_flight, ?grace, "waiting for messages in flight");
        if tokio::time::timeout(grace, self.tasks.acquire_many(self.total_tasks as u32))
            .await
            .is_err()
        {
            tracing::warn!(
                "messages still in flight after the grace period; they will be redelivered"
            );
        }
    }
}

/// A message's hold on one of [`Capacity`]'s slots, until it is released or the message's
/// handling ends.
pub(crate) struct Slot(Option<OwnedSemaphorePermit>);

impl Slot {
    pub(crate) fn release(&mut self) {
        self.0.take();
    }
}

/// Runs `handle` on each message of `consumer`, at most `concurrency` at once, until `stop`
/// fires, then waits up to `grace` for those in flight; see [`consume_until`]. A consumer
/// that answers nothing for long is opened again with `reopen`.
pub(crate) async fn consume<F, Fut, O, OFut, E>(
    what: &str,
    mut consumer: Consumer<pull::Config>,
    reopen: O,
    concurrency: usize,
    stop: CancellationToken,
    grace: Duration,
    handle: F,
) where
    F: Fn(jetstream::Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    O: Fn() -> OFut,
    OFut: Future<Output = Result<Consumer<pull::Config>, E>>,
    E: std::fmt::Display,
{
    let capacity = Capacity::new(concurrency, concurrency);
    let handle = Arc::new(handle);
    loop {
        let handle = handle.clone();
        let stopped = consume_until(
            consumer,
            &capacity,
            stop.clone(),
            false,
            move |message, _| handle(message),
        )
        .await;
        if stopped != Stopped::Silent {
            break;
        }
        match open_with_retry(what, &stop, &reopen).await {
            Some(opened) => consumer = opened,
            None => break,
        }
    }
    capacity.wait_idle(grace).await;
}

/// Runs `handle` on each message within `capacity`, fetching only as many as there is room
/// for (so no message waits in our buffers with its ack timer running). With
/// `leave_when_drained`, it returns once nothing of ours runs and the consumer has no message
/// waiting or unacknowledged. On `stop`, it hands back fetched messages it has not started
/// and returns; what runs goes on (see [`Capacity::wait_idle`]).
pub(crate) async fn consume_until<F, Fut>(
    mut consumer: Consumer<pull::Config>,
    capacity: &Capacity,
    stop: CancellationToken,
    leave_when_drained: bool,
    handle: F,
) -> Stopped
where
    F: Fn(jetstream::Message, Slot) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handle = Arc::new(handle);
    let name = consumer.cached_info().name.clone();
    let mut silence = Silence::default();
    let mut stopped = Stopped::Asked;
    'fetching: loop {
        let first = tokio::select! {
            held = capacity.acquire() => match held { Some(held) => held, None => break },
            () = stop.cancelled() => break,
        };
        let room = 1 + capacity.room();
        let fetch_wait = if leave_when_drained {
            DRAINING_FETCH_WAIT
        } else {
            FETCH_WAIT
        };
        let batch = tokio::select! {
            batch = consumer.fetch().max_messages(room).expires(fetch_wait).messages() => batch,
            () = stop.cancelled() => break,
        };
        let mut messages = match batch {
            Ok(messages) => messages,
            Err(error) if leave_when_drained => {
                // Its consumer may be gone: whoever started it opens it again.
                tracing::debug!(%error, "fetch failed; leaving");
                break;
            }
            Err(error) => {
                tracing::debug!(%error, "fetch failed; retrying");
                if silence.unanswered(&name, &error.to_string()) {
                    stopped = Stopped::Silent;
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(ERROR_PAUSE) => continue,
                    () = stop.cancelled() => break,
                }
            }
        };
        let mut first = Some(first);
        let mut received = 0usize;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(fetch_wait + FETCH_SLACK, messages.next()) => next,
                () = stop.cancelled() => {
                    hand_back(&mut messages).await;
                    break 'fetching;
                }
            };
            let Ok(next) = next else {
                tracing::debug!("fetch unanswered; asking again");
                if silence.unanswered(&name, "no answer to the pull request") {
                    stopped = Stopped::Silent;
                    break 'fetching;
                }
                break;
            };
            let message = match next {
                None => {
                    silence.answered();
                    break;
                }
                Some(Ok(message)) => message,
                Some(Err(error)) => {
                    tracing::debug!(%error, "fetch interrupted");
                    if silence.unanswered(&name, &error.to_string()) {
                        stopped = Stopped::Silent;
                        break 'fetching;
                    }
                    break;
                }
            };
            silence.answered();
            received += 1;
            let (slot, task) = match first.take() {
                Some(held) => held,
                None => match capacity.acquire().await {
                    Some(held) => held,
                    None => break 'fetching,
                },
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                handle(message, slot).await;
                drop(task);
            });
        }
        drop(first);
        let idle = received == 0 && capacity.idle();
        if leave_when_drained && idle && is_drained(&mut consumer).await {
            stopped = Stopped::Drained;
            break;
        }
    }
    stopped
}

/// Nothing waits for the consumer and nothing it delivered is unacknowledged (a job handed
/// back for a later retry is unacknowledged until it is delivered again).
async fn is_drained(consumer: &mut Consumer<pull::Config>) -> bool {
    consumer
        .info()
        .await
        .is_ok_and(|info| info.num_pending == 0 && info.num_ack_pending == 0)
}

/// Since when a consumer has answered nothing (no message, only errors and timeouts). An
/// empty batch is an answer: a queue with nothing in it is not a stall.
#[derive(Default)]
struct Silence {
    since: Option<std::time::Instant>,
}

impl Silence {
    /// True when the consumer has been silent for [`SILENCE_LIMIT`] (said at warn level).
    fn unanswered(&mut self, consumer: &str, last_error: &str) -> bool {
        let now = std::time::Instant::now();
        let silent_for = now.duration_since(*self.since.get_or_insert(now));
        if silent_for < SILENCE_LIMIT {
            return false;
        }
        tracing::warn!(
            consumer,
            ?silent_for,
            last_error,
            "the consumer answers no fetch; opening it again"
        );
        true
    }

    fn answered(&mut self) {
        self.since = None;
    }
}

/// Naks what a batch still holds so that it is redelivered at once, not after the ack wait.
async fn hand_back(messages: &mut pull::Batch) {
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_millis(100), messages.next()).await
    {
        let _ = message.ack_with(AckKind::Nak(None)).await;
    }
}
