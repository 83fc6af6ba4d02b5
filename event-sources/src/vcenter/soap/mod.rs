//! A vSphere SOAP client of our own: just the calls the event poller needs, over HTTP with a
//! session cookie. TLS is verified against the system's roots by default; a CA file can be
//! added, or verification turned off explicitly.
//!
//! ```no_run
//! # async fn example() -> Result<(), switchyard_event_sources::vcenter::soap::SoapError> {
//! use switchyard_event_sources::vcenter::soap::{Client, ClientOptions};
//! let options = ClientOptions::new("https://vcenter.example/sdk".parse().expect("url"));
//! let client = Client::connect(&options).await?;
//! client.login("svc", "secret").await?;
//! println!("vCenter time: {}", client.current_time().await?);
//! client.logout().await;
//! # Ok(()) }
//! ```

mod error;
mod types;
pub mod xml;

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use quick_xml::escape::escape;
use url::Url;

pub use error::{SoapError, SoapErrorKind};
pub use types::{ClientOptions, MoRef, PageUpdate, ServiceContent};
use xml::Element;

/// A logged-in (or not yet) connection to one vCenter.
pub struct Client {
    http: reqwest::Client,
    url: Url,
    timeout: Duration,
    max_answer_bytes: usize,
    content: ServiceContent,
    cookie: Mutex<Option<String>>,
}

const SESSION_COOKIE: &str = "vmware_soap_session";

/// Largest SOAP answer read: a page of 1,000 events changing many times over stays well below.
pub const MAX_ANSWER_BYTES: usize = 128 * 1024 * 1024;

impl Client {
    /// Reaches the vCenter and reads its ServiceContent (no login yet).
    pub async fn connect(options: &ClientOptions) -> Result<Self, SoapError> {
        if let Some(reason) = switchyard_broker::networks::guard::literal_refusal(
            &options.networks,
            options.url.as_str(),
        ) {
            return Err(SoapError::Config(format!(
                "`url` `{}`: {reason} (SWITCHYARD_CALLBACK_ALLOW, SWITCHYARD_CALLBACK_DENY)",
                options.url
            )));
        }
        let mut builder = switchyard_broker::networks::guard::guarded(options.networks.clone())
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(10))
            .danger_accept_invalid_certs(options.insecure);
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                SoapError::Config(format!("cannot read CA file {}: {e}", path.display()))
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| SoapError::Config(format!("CA file {}: {e}", path.display())))?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some(pem) = &options.ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| SoapError::Config(format!("`caPem`: {e}")))?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder
            .build()
            .map_err(|e| SoapError::Config(format!("HTTP client: {e}")))?;
        let mut client = Self {
            http,
            url: options.url.clone(),
            timeout: options.timeout,
            max_answer_bytes: options.max_answer_bytes,
            content: ServiceContent {
                root_folder: MoRef::new("Folder", ""),
                property_collector: MoRef::new("PropertyCollector", ""),
                session_manager: MoRef::new("SessionManager", ""),
                event_manager: MoRef::new("EventManager", ""),
                api_version: String::new(),
            },
            cookie: Mutex::new(None),
        };
        client.content = client.retrieve_service_content().await?;
        Ok(client)
    }

    pub fn service_content(&self) -> &ServiceContent {
        &self.content
    }

    async fn retrieve_service_content(&self) -> Result<ServiceContent, SoapError> {
        let this = MoRef::new("ServiceInstance", "ServiceInstance");
        let answer = self.invoke("RetrieveServiceContent", &this, "").await?;
        let content = answer
            .child("returnval")
            .ok_or_else(|| missing("RetrieveServiceContent", "returnval"))?;
        let reference = |name: &str| {
            content
                .child(name)
                .and_then(MoRef::from_element)
                .ok_or_else(|| missing("RetrieveServiceContent", name))
        };
        Ok(ServiceContent {
            root_folder: reference("rootFolder")?,
            property_collector: reference("propertyCollector")?,
            session_manager: reference("sessionManager")?,
            event_manager: reference("eventManager")?,
            api_version: content
                .find(&["about", "apiVersion"])
                .map(|e| e.text.clone())
                .unwrap_or_default(),
        })
    }

    /// Logs in; the session cookie is kept for every later call.
    pub async fn login(&self, username: &str, password: &str) -> Result<(), SoapError> {
        let arguments = format!(
            "<userName>{}</userName><password>{}</password>",
            escape(username),
            escape(password)
        );
        self.invoke("Login", &self.content.session_manager, &arguments)
            .await
            .map(drop)
    }

    /// Ends the session, ignoring errors (it may be gone already).
    pub async fn logout(&self) {
        let _ = self
            .invoke("Logout", &self.content.session_manager, "")
            .await;
    }

    /// The vCenter's clock.
    pub async fn current_time(&self) -> Result<DateTime<Utc>, SoapError> {
        let this = MoRef::new("ServiceInstance", "ServiceInstance");
        let answer = self.invoke("CurrentTime", &this, "").await?;
        let text = answer.child_text("returnval").unwrap_or_default();
        parse_time(text).ok_or_else(|| protocol("CurrentTime", format!("time `{text}`")))
    }

    /// An event history collector over the whole inventory (root folder, recursion `all`),
    /// from `begin` when given.
    pub async fn create_collector_for_events(
        &self,
        begin: Option<DateTime<Utc>>,
    ) -> Result<MoRef, SoapError> {
        let time = begin
            .map(|t| format!("<time><beginTime>{}</beginTime></time>", format_time(t)))
            .unwrap_or_default();
        let arguments = format!(
            "<filter><entity>{}<recursion>all</recursion></entity>{time}</filter>",
            self.content.root_folder.to_xml("entity")
        );
        let answer = self
            .invoke(
                "CreateCollectorForEvents",
                &self.content.event_manager,
                &arguments,
            )
            .await?;
        answer
            .child("returnval")
            .and_then(MoRef::from_element)
            .ok_or_else(|| missing("CreateCollectorForEvents", "returnval"))
    }

    pub async fn set_collector_page_size(
        &self,
        collector: &MoRef,
        size: u32,
    ) -> Result<(), SoapError> {
        let arguments = format!("<maxCount>{size}</maxCount>");
        self.invoke("SetCollectorPageSize", collector, &arguments)
            .await
            .map(drop)
    }

    /// The next events of a collector, oldest first (a real vCenter; vcsim 0.24 gets it wrong).
    pub async fn read_next_events(
        &self,
        collector: &MoRef,
        max: u32,
    ) -> Result<Vec<Element>, SoapError> {
        let arguments = format!("<maxCount>{max}</maxCount>");
        let answer = self.invoke("ReadNextEvents", collector, &arguments).await?;
        Ok(answer.into_children_named("returnval").collect())
    }

    pub async fn destroy_collector(&self, collector: &MoRef) -> Result<(), SoapError> {
        self.invoke("DestroyCollector", collector, "")
            .await
            .map(drop)
    }

    /// A property filter on the collector's `latestPage`, for [`Client::wait_for_updates_ex`].
    pub async fn create_filter(&self, collector: &MoRef) -> Result<MoRef, SoapError> {
        let arguments = format!(
            "<spec><propSet><type>{}</type><all>false</all><pathSet>latestPage</pathSet></propSet>\
             <objectSet>{}<skip>false</skip></objectSet></spec><partialUpdates>false</partialUpdates>",
            escape(collector.kind.as_str()),
            collector.to_xml("obj")
        );
        let answer = self
            .invoke("CreateFilter", &self.content.property_collector, &arguments)
            .await?;
        answer
            .child("returnval")
            .and_then(MoRef::from_element)
            .ok_or_else(|| missing("CreateFilter", "returnval"))
    }

    /// Waits up to `max_wait` for changes after `version` (empty: the current state at once).
    /// `None` when the wait ended without changes.
    pub async fn wait_for_updates_ex(
        &self,
        version: &str,
        max_wait: Duration,
    ) -> Result<Option<PageUpdate>, SoapError> {
        let arguments = format!(
            "<version>{}</version><options><maxWaitSeconds>{}</maxWaitSeconds></options>",
            escape(version),
            max_wait.as_secs().max(1)
        );
        let answer = self
            .call(
                "WaitForUpdatesEx",
                &self.content.property_collector,
                &arguments,
                self.timeout + max_wait,
            )
            .await?;
        let mut answer = answer;
        let Some(set) = answer.take_child("returnval") else {
            return Ok(None);
        };
        let version = set.child_text("version").unwrap_or_default().to_string();
        let pages = set
            .into_children_named("filterSet")
            .flat_map(|f| f.into_children_named("objectSet").collect::<Vec<_>>())
            .flat_map(|o| o.into_children_named("changeSet").collect::<Vec<_>>())
            .filter(|c| c.child_text("name") == Some("latestPage"))
            .map(|mut c| c.take_child("val").map(|v| v.children).unwrap_or_default())
            .collect();
        Ok(Some(PageUpdate { version, pages }))
    }

    /// Calls `method` on `this` with `arguments` (already XML) and returns the method's
    /// `<…Response>` element. Public so that tests and tools can drive other vSphere calls.
    pub async fn invoke(
        &self,
        method: &str,
        this: &MoRef,
        arguments: &str,
    ) -> Result<Element, SoapError> {
        self.call(method, this, arguments, self.timeout).await
    }

    async fn call(
        &self,
        method: &str,
        this: &MoRef,
        arguments: &str,
        timeout: Duration,
    ) -> Result<Element, SoapError> {
        let body = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><{method} xmlns="urn:vim25">{}{arguments}</{method}></soapenv:Body></soapenv:Envelope>"#,
            this.to_xml("_this")
        );
        let action = match self.content.api_version.as_str() {
            "" => "urn:vim25".to_string(),
            version => format!("urn:vim25/{version}"),
        };
        let mut request = self
            .http
            .post(self.url.clone())
            .timeout(timeout)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", action)
            .body(body);
        if let Some(cookie) = self.cookie() {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.map_err(|e| self.transport(&e))?;
        if let Some(cookie) = session_cookie(response.headers()) {
            self.set_cookie(cookie);
        }
        let status = response.status();
        let bytes = self.read_answer(method, response).await?;
        let mut envelope =
            xml::parse(&bytes).map_err(|e| protocol(method, format!("HTTP {status}: {e}")))?;
        let mut body = envelope
            .take_child("Body")
            .ok_or_else(|| protocol(method, format!("HTTP {status} without a SOAP body")))?;
        if let Some(fault) = body.child("Fault") {
            return Err(error::from_fault(fault));
        }
        let expected = format!("{method}Response");
        body.take_child(&expected)
            .ok_or_else(|| protocol(method, format!("HTTP {status} without <{expected}>")))
    }

    /// The answer's body, refused beyond the client's `max_answer_bytes` however it is sent.
    async fn read_answer(
        &self,
        method: &str,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, SoapError> {
        let limit = self.max_answer_bytes;
        let too_large = || protocol(method, format!("answer larger than {limit} bytes"));
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(&e))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport(&self, error: &reqwest::Error) -> SoapError {
        // The chain names the real cause (refused connection, certificate, timeout).
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        SoapError::Transport {
            url: self.url.to_string(),
            message,
        }
    }

    fn cookie(&self) -> Option<String> {
        self.cookie.lock().map(|c| c.clone()).unwrap_or(None)
    }

    fn set_cookie(&self, cookie: String) {
        if let Ok(mut slot) = self.cookie.lock() {
            *slot = Some(cookie);
        }
    }
}

/// `vmware_soap_session=…` from a `Set-Cookie` header, ready to send back.
fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.trim_start().starts_with(SESSION_COOKIE))
        .map(|pair| pair.trim().to_string())
}

/// vSphere times are xsd:dateTime.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn missing(method: &str, what: &str) -> SoapError {
    protocol(method, format!("no <{what}> in the answer"))
}

fn protocol(method: &str, reason: String) -> SoapError {
    SoapError::Protocol {
        method: method.to_string(),
        reason,
    }
}
