use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted to run later (`X-Delay`, `X-Not-Before`): stored, not yet due.
    Scheduled,
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    /// Succeeded, failed or cancelled: nothing more will run.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Scheduled => "scheduled",
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "scheduled" => Ok(JobStatus::Scheduled),
            "queued" => Ok(JobStatus::Queued),
            "running" => Ok(JobStatus::Running),
            "succeeded" => Ok(JobStatus::Succeeded),
            "failed" => Ok(JobStatus::Failed),
            "cancelled" => Ok(JobStatus::Cancelled),
            other => Err(format!(
                "unknown status `{other}`: use scheduled, queued, running, succeeded, failed or cancelled"
            )),
        }
    }
}

/// Where delivery of a job's callback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallbackStatus {
    Pending,
    Delivered,
    Failed,
}

/// The outcome of a job's callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackOutcome {
    pub status: CallbackStatus,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt at a job: when it ran and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1 for the first; a delivery lost in a crash counts too.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// The function's status code (503 when it could not be reached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The most attempts a record lists (the latest ones); `attempts` still counts them all.
pub const MAX_HISTORY: usize = 32;

/// The record of one asynchronous invocation, updated at every transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub call_id: String,
    pub function: String,
    pub status: JobStatus,
    /// Attempts started so far.
    pub attempts: u32,
    /// Each attempt (the latest [`MAX_HISTORY`]), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Attempt>,
    /// Attempts allowed (known once the job first runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    pub created_at: DateTime<Utc>,
    /// What made the job: `schedule` for a schedule's tick; absent for an invoke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The tick a schedule's job belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<DateTime<Utc>>,
    /// A delayed job runs at this time, not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Present when the job has a callback URL and has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackOutcome>,
    /// True when the invocation was copied to `SY_DEAD`.
    #[serde(default)]
    pub dead_lettered: bool,
    /// True when the response is available at `/system/jobs/{callId}/result`.
    #[serde(default)]
    pub result_stored: bool,
    /// The caller chose the call id (`X-Call-Id`, `Idempotency-Key`): it may be known to others,
    /// so cancelling the job needs credentials. An id Switchyard generated is the capability.
    #[serde(default)]
    pub caller_chosen_id: bool,
}

impl JobRecord {
    /// A just-accepted job.
    pub fn queued(call_id: &str, function: &str, callback_url: Option<String>) -> Self {
        JobRecord {
            call_id: call_id.to_string(),
            function: function.to_string(),
            status: JobStatus::Queued,
            attempts: 0,
            history: Vec::new(),
            max_attempts: None,
            created_at: Utc::now(),
            trigger: None,
            scheduled_for: None,
            not_before: None,
            started_at: None,
            finished_at: None,
            last_status_code: None,
            last_error: None,
            callback_url,
            callback: None,
            dead_lettered: false,
            result_stored: false,
            caller_chosen_id: false,
        }
    }

    /// The job of a schedule's tick at `instant`.
    pub fn tick(call_id: &str, function: &str, instant: DateTime<Utc>) -> Self {
        JobRecord {
            trigger: Some("schedule".into()),
            scheduled_for: Some(instant),
            ..JobRecord::queued(call_id, function, None)
        }
    }

    /// A just-accepted job that runs at `not_before`.
    pub fn scheduled(
        call_id: &str,
        function: &str,
        callback_url: Option<String>,
        not_before: DateTime<Utc>,
    ) -> Self {
        JobRecord {
            status: JobStatus::Scheduled,
            not_before: Some(not_before),
            ..JobRecord::queued(call_id, function, callback_url)
        }
    }
}
