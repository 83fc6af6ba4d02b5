//! Load reports: every dispatcher says, about once a second, how many calls of each function it
//! has in flight and how many it has finished since it started (core NATS [`crate::subjects::LOAD`],
//! not stored: a lost report is replaced by the next). The autoscaler adds them up.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One dispatcher's load, per function id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    /// Which dispatcher (a random id per process).
    pub dispatcher: String,
    pub functions: BTreeMap<String, FunctionLoad>,
    pub at: DateTime<Utc>,
}

/// One function's calls at one dispatcher (sync calls and job attempts alike).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionLoad {
    pub in_flight: u64,
    /// Finished since the dispatcher started: the autoscaler derives a rate from two reports.
    pub finished: u64,
}

impl LoadReport {
    pub fn to_bytes(&self) -> bytes::Bytes {
        serde_json::to_vec(self).unwrap_or_default().into()
    }

    pub fn from_bytes(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice(payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_round_trips() {
        let report = LoadReport {
            dispatcher: "d1".into(),
            functions: [(
                "echo".to_string(),
                FunctionLoad {
                    in_flight: 3,
                    finished: 40,
                },
            )]
            .into(),
            at: Utc::now(),
        };
        assert_eq!(LoadReport::from_bytes(&report.to_bytes()), Some(report));
        assert_eq!(LoadReport::from_bytes(b"{}"), None);
    }
}
