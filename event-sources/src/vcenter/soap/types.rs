//! The values the SOAP client takes and gives: how to reach a vCenter, managed object
//! references, the service content, and the pages of events an update carries.

use std::path::PathBuf;
use std::time::Duration;

use quick_xml::escape::escape;
use url::Url;

use super::xml::Element;
use switchyard_broker::networks::NetworkPolicy;

/// How to reach a vCenter.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The SDK URL (`https://host/sdk`), without credentials.
    pub url: Url,
    /// Accept any certificate. Only for test set-ups.
    pub insecure: bool,
    /// A PEM file with the CA certificate(s) to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    /// CA certificate(s) to trust besides the system's, PEM.
    pub ca_pem: Option<String>,
    /// The longest a call may take (WaitForUpdatesEx adds its own wait to it).
    pub timeout: Duration,
    /// The largest answer read; a larger one is an error.
    pub max_answer_bytes: usize,
    /// Where the client may connect: every address the host resolves to is checked when it
    /// connects, as for callbacks. Redirects are never followed.
    pub networks: NetworkPolicy,
}

impl ClientOptions {
    pub fn new(url: Url) -> Self {
        Self {
            url,
            insecure: false,
            ca_file: None,
            ca_pem: None,
            timeout: Duration::from_secs(30),
            max_answer_bytes: super::MAX_ANSWER_BYTES,
            networks: NetworkPolicy::default(),
        }
    }

    pub fn networks(mut self, networks: NetworkPolicy) -> Self {
        self.networks = networks;
        self
    }

    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    pub fn max_answer_bytes(mut self, bytes: usize) -> Self {
        self.max_answer_bytes = bytes;
        self
    }

    pub fn ca_file(mut self, path: Option<PathBuf>) -> Self {
        self.ca_file = path;
        self
    }

    pub fn ca_pem(mut self, pem: Option<String>) -> Self {
        self.ca_pem = pem;
        self
    }
}

/// A reference to a managed object: its type and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoRef {
    pub kind: String,
    pub value: String,
}

impl MoRef {
    pub fn new(kind: &str, value: &str) -> Self {
        Self {
            kind: kind.to_string(),
            value: value.to_string(),
        }
    }

    /// The reference as the element `tag`.
    pub fn to_xml(&self, tag: &str) -> String {
        format!(
            r#"<{tag} type="{}">{}</{tag}>"#,
            escape(self.kind.as_str()),
            escape(self.value.as_str())
        )
    }

    pub(super) fn from_element(element: &Element) -> Option<Self> {
        Some(Self::new(element.attribute("type")?, element.text.trim()))
    }
}

/// What the poller needs from the ServiceContent.
#[derive(Debug, Clone)]
pub struct ServiceContent {
    pub root_folder: MoRef,
    pub property_collector: MoRef,
    pub session_manager: MoRef,
    pub event_manager: MoRef,
    /// `about.apiVersion` (`8.0.3.0`, say).
    pub api_version: String,
}

/// One answer of WaitForUpdatesEx: the version to wait from next, and each `latestPage` value
/// it carried (every one is a whole page of events, newest first).
#[derive(Debug, Default)]
pub struct PageUpdate {
    pub version: String,
    pub pages: Vec<Vec<Element>>,
}
