//! The audit entry of a change: who, what they asked (method and path, truncated), the targets
//! it was authorized or refused on, and the outcome. Refusals are limited per principal, so an
//! identified caller cannot flush the log with denied requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use switchyard_access::Principal;
use switchyard_broker::audit::AuditEntry;

use crate::api::AppState;

/// The most targets one entry names.
pub(super) const MAX_TARGETS: usize = 8;
/// The longest path recorded.
const MAX_PATH_CHARS: usize = 256;
/// Refused changes recorded per principal and window; the rest are counted.
const DENIALS_PER_WINDOW: u32 = 20;
const WINDOW: Duration = Duration::from_secs(60);
/// The most principals tracked at once (identified callers only).
const MAX_TRACKED: usize = 10_000;

/// How many refusals each principal had in the current window.
#[derive(Default)]
pub(crate) struct DenialLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl DenialLimiter {
    /// Whether one more refusal of `who` may be recorded now.
    fn admit(&self, who: &str) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return true;
        };
        let now = Instant::now();
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(who.to_string()).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        *count += 1;
        *count <= DENIALS_PER_WINDOW
    }
}

/// Writes the audit entry of one change (refusals within the per-principal limit).
pub(crate) async fn record(
    state: &AppState,
    principal: &Principal,
    method: &str,
    path: &str,
    targets: Vec<String>,
    status: u16,
    call_id: String,
) {
    let outcome = AuditEntry::outcome_of(status);
    if outcome == "denied" && !state.audit_denials.admit(&principal.who) {
        state.metrics.count_unrecorded_denial();
        return;
    }
    let entry = AuditEntry {
        time: Utc::now(),
        who: principal.who.clone(),
        method: method.to_string(),
        path: truncated(path),
        targets,
        status,
        outcome: outcome.to_string(),
        call_id,
    };
    if let Err(error) = switchyard_broker::audit::record(&state.js, &entry).await {
        tracing::error!(%error, who = %entry.who, path = %entry.path, "audit entry not stored");
    }
}

fn truncated(path: &str) -> String {
    match path.char_indices().nth(MAX_PATH_CHARS) {
        Some((end, _)) => format!("{}…", &path[..end]),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_limited_per_principal_and_paths_truncated() {
        let limiter = DenialLimiter::default();
        let admitted = (0..50).filter(|_| limiter.admit("user:mallory")).count();
        assert_eq!(admitted, DENIALS_PER_WINDOW as usize);
        assert!(limiter.admit("user:ann"));
        assert_eq!(
            truncated(&"x".repeat(60_000)).chars().count(),
            MAX_PATH_CHARS + 1
        );
        assert_eq!(truncated("/system/functions"), "/system/functions");
    }
}
