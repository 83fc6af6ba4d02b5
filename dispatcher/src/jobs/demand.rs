//! Which functions get a worker (and so a JetStream consumer) now: a pure decision, table-tested.
//!
//! A function holds a worker only while it has work, so the number of consumers follows the
//! work, not the number of functions. At most `capacity` workers run at once; a function found
//! with work beyond that waits its turn in arrival order, and while any function waits, a worker
//! that has had its slice is asked to yield (it finishes what it runs and goes to the back of
//! the line if its queue is not empty), so that every function's jobs run whatever their number.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// How a worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Its queue was empty.
    Drained,
    /// It was asked to make room for a waiting function; its queue may hold more.
    Yielded,
}

#[derive(Debug)]
struct Active {
    since: Instant,
    /// When work was last announced for it while it ran: a worker that finds its queue empty
    /// just as a job arrives must not leave the job to the next scan.
    last_found: Option<Instant>,
    yielding: bool,
}

#[derive(Debug)]
pub(crate) struct Demand {
    capacity: usize,
    slice: Duration,
    /// A worker that drains within this long of work being announced starts again.
    recheck: Duration,
    active: HashMap<String, Active>,
    waiting: VecDeque<String>,
    queued: HashSet<String>,
}

impl Demand {
    pub(crate) fn new(capacity: usize, slice: Duration, recheck: Duration) -> Self {
        Demand {
            capacity: capacity.max(1),
            slice,
            recheck,
            active: HashMap::new(),
            waiting: VecDeque::new(),
            queued: HashSet::new(),
        }
    }

    /// Work was found for `function`: true when its worker is to start now.
    pub(crate) fn found(&mut self, function: &str, now: Instant) -> bool {
        if let Some(active) = self.active.get_mut(function) {
            active.last_found = Some(now);
            return false;
        }
        if self.queued.contains(function) {
            return false;
        }
        if self.active.len() < self.capacity {
            self.activate(function.to_string(), now);
            return true;
        }
        self.queued.insert(function.to_string());
        self.waiting.push_back(function.to_string());
        false
    }

    /// `function`'s worker ended: the functions whose workers are to start now (it may be
    /// among them, when it has more work and nobody waits, or work came as it drained).
    pub(crate) fn ended(&mut self, function: &str, how: Ended, now: Instant) -> Vec<String> {
        let Some(active) = self.active.remove(function) else {
            return Vec::new();
        };
        let announced_late = active
            .last_found
            .is_some_and(|at| now.duration_since(at) <= self.recheck);
        if how == Ended::Yielded || announced_late {
            self.queued.insert(function.to_string());
            self.waiting.push_back(function.to_string());
        }
        self.fill(now)
    }

    /// `function` is gone (removed from the registry): it no longer waits. Its worker, if it
    /// runs, still ends through [`Demand::ended`].
    pub(crate) fn forget(&mut self, function: &str) {
        if self.queued.remove(function) {
            self.waiting.retain(|f| f != function);
        }
    }

    /// The workers to ask to yield now: while functions wait, the ones that have had their
    /// slice, longest-running first, one per waiting function.
    pub(crate) fn due_to_yield(&mut self, now: Instant) -> Vec<String> {
        let already = self.active.values().filter(|a| a.yielding).count();
        let wanted = self.waiting.len().saturating_sub(already);
        if wanted == 0 {
            return Vec::new();
        }
        let mut due: Vec<(&String, Instant)> = self
            .active
            .iter()
            .filter(|(_, a)| !a.yielding && now.duration_since(a.since) >= self.slice)
            .map(|(f, a)| (f, a.since))
            .collect();
        due.sort_by_key(|(_, since)| *since);
        let chosen: Vec<String> = due
            .into_iter()
            .take(wanted)
            .map(|(f, _)| f.clone())
            .collect();
        for function in &chosen {
            if let Some(active) = self.active.get_mut(function) {
                active.yielding = true;
            }
        }
        chosen
    }

    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn fill(&mut self, now: Instant) -> Vec<String> {
        let mut started = Vec::new();
        while self.active.len() < self.capacity {
            let Some(next) = self.waiting.pop_front() else {
                break;
            };
            self.queued.remove(&next);
            self.activate(next.clone(), now);
            started.push(next);
        }
        started
    }

    fn activate(&mut self, function: String, now: Instant) {
        self.active.insert(
            function,
            Active {
                since: now,
                last_found: None,
                yielding: false,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLICE: Duration = Duration::from_secs(2);
    const RECHECK: Duration = Duration::from_secs(3);

    fn at(start: Instant, seconds: u64) -> Instant {
        start + Duration::from_secs(seconds)
    }

    #[test]
    fn functions_start_up_to_the_capacity_then_wait_in_arrival_order() {
        let t = Instant::now();
        let mut demand = Demand::new(2, SLICE, RECHECK);
        assert!(demand.found("a", t));
        assert!(demand.found("b", t));
        assert!(!demand.found("c", t));
        assert!(!demand.found("d", t));
        assert!(!demand.found("c", t), "found twice, queued once");
        assert_eq!(demand.waiting(), 2);
        assert!(!demand.found("a", t), "already running");
        assert_eq!(demand.ended("b", Ended::Drained, at(t, 10)), vec!["c"]);
        assert_eq!(demand.ended("a", Ended::Drained, at(t, 10)), vec!["d"]);
        assert_eq!(demand.waiting(), 0);
    }

    #[test]
    fn workers_yield_only_while_others_wait_and_only_after_their_slice() {
        let t = Instant::now();
        let mut demand = Demand::new(2, SLICE, RECHECK);
        demand.found("a", t);
        demand.found("b", at(t, 1));
        assert!(demand.due_to_yield(at(t, 5)).is_empty(), "nobody waits");
        demand.found("c", at(t, 5));
        assert!(demand.due_to_yield(at(t, 1)).is_empty(), "slice not over");
        assert_eq!(
            demand.due_to_yield(at(t, 5)),
            vec!["a"],
            "the longest running"
        );
        assert!(
            demand.due_to_yield(at(t, 6)).is_empty(),
            "one already yields for c"
        );
        // The yielding function goes to the back of the line: it may have more.
        assert_eq!(demand.ended("a", Ended::Yielded, at(t, 6)), vec!["c"]);
        assert_eq!(demand.waiting(), 1);
        assert_eq!(demand.ended("b", Ended::Drained, at(t, 20)), vec!["a"]);
    }

    #[test]
    fn a_yielded_function_starts_again_at_once_when_nobody_else_waits() {
        let t = Instant::now();
        let mut demand = Demand::new(1, SLICE, RECHECK);
        demand.found("a", t);
        assert_eq!(demand.ended("a", Ended::Yielded, at(t, 3)), vec!["a"]);
    }

    #[test]
    fn work_announced_while_a_worker_drains_starts_it_again() {
        let t = Instant::now();
        let mut demand = Demand::new(4, SLICE, RECHECK);
        demand.found("a", t);
        demand.found("a", at(t, 10));
        assert_eq!(demand.ended("a", Ended::Drained, at(t, 12)), vec!["a"]);
        // Announced long before it drained: that job was taken meanwhile.
        demand.found("a", at(t, 20));
        assert!(demand.ended("a", Ended::Drained, at(t, 30)).is_empty());
    }

    #[test]
    fn a_forgotten_function_no_longer_waits() {
        let t = Instant::now();
        let mut demand = Demand::new(1, SLICE, RECHECK);
        demand.found("a", t);
        demand.found("gone", t);
        demand.forget("gone");
        assert!(demand.ended("a", Ended::Drained, at(t, 10)).is_empty());
        assert!(
            demand.found("gone", at(t, 11)),
            "found again later: it starts"
        );
    }
}
