//! What can go wrong in a SOAP call, with the vSphere faults a caller must tell apart.

use super::xml::Element;

/// A failed vSphere SOAP call.
#[derive(Debug, thiserror::Error)]
pub enum SoapError {
    /// `InvalidLogin`: the user name or password was refused.
    #[error("login refused: {0}")]
    InvalidLogin(String),
    /// `NotAuthenticated`: the session expired or was ended; log in again.
    #[error("not authenticated (the session expired or ended): {0}")]
    NotAuthenticated(String),
    /// `ManagedObjectNotFound`: the object (a collector after a new login, say) is gone.
    #[error("managed object not found: {0}")]
    ManagedObjectNotFound(String),
    /// Any other fault, with its type and the server's fault string.
    #[error("{fault}: {message}")]
    Fault { fault: String, message: String },
    /// The server could not be reached, or the connection broke (TLS verification included).
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },
    /// The answer was not the SOAP answer expected.
    #[error("unexpected answer to {method}: {reason}")]
    Protocol { method: String, reason: String },
    /// The client could not be configured (a CA file that cannot be read, say).
    #[error("client configuration: {0}")]
    Config(String),
}

/// The kinds of [`SoapError`], for decisions that do not need the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapErrorKind {
    InvalidLogin,
    NotAuthenticated,
    ManagedObjectNotFound,
    Fault,
    Transport,
    Protocol,
    Config,
}

impl SoapError {
    pub fn kind(&self) -> SoapErrorKind {
        match self {
            Self::InvalidLogin(_) => SoapErrorKind::InvalidLogin,
            Self::NotAuthenticated(_) => SoapErrorKind::NotAuthenticated,
            Self::ManagedObjectNotFound(_) => SoapErrorKind::ManagedObjectNotFound,
            Self::Fault { .. } => SoapErrorKind::Fault,
            Self::Transport { .. } => SoapErrorKind::Transport,
            Self::Protocol { .. } => SoapErrorKind::Protocol,
            Self::Config(_) => SoapErrorKind::Config,
        }
    }
}

impl SoapErrorKind {
    /// A short name for metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidLogin => "invalid_login",
            Self::NotAuthenticated => "not_authenticated",
            Self::ManagedObjectNotFound => "managed_object_not_found",
            Self::Fault => "fault",
            Self::Transport => "transport",
            Self::Protocol => "protocol",
            Self::Config => "config",
        }
    }
}

/// Reads a `soapenv:Fault` element: the fault type comes from the detail's `xsi:type`, or from
/// its element name without the `Fault` suffix.
pub(crate) fn from_fault(fault: &Element) -> SoapError {
    let message = fault
        .child_text("faultstring")
        .unwrap_or_default()
        .to_string();
    let detail = fault.child("detail").and_then(|d| d.children.first());
    let name = detail
        .and_then(|d| d.xsi_type.clone())
        .or_else(|| detail.map(|d| d.name.trim_end_matches("Fault").to_string()))
        .unwrap_or_else(|| "UnknownFault".to_string());
    match name.as_str() {
        "InvalidLogin" => SoapError::InvalidLogin(message),
        "NotAuthenticated" => SoapError::NotAuthenticated(message),
        "ManagedObjectNotFound" => SoapError::ManagedObjectNotFound(message),
        _ => SoapError::Fault {
            fault: name,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcenter::soap::xml;

    fn fault(detail: &str) -> SoapError {
        let doc = format!(
            r#"<soapenv:Fault xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><faultcode>ServerFaultCode</faultcode><faultstring>it failed</faultstring><detail>{detail}</detail></soapenv:Fault>"#
        );
        from_fault(&xml::parse(doc.as_bytes()).expect("xml"))
    }

    #[test]
    fn faults_become_typed_errors() {
        let login = fault(r#"<InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"/>"#);
        assert_eq!(login.kind(), SoapErrorKind::InvalidLogin);
        let session = fault(
            r#"<NotAuthenticatedFault xmlns="urn:vim25"><object type="SessionManager">SessionManager</object></NotAuthenticatedFault>"#,
        );
        assert_eq!(session.kind(), SoapErrorKind::NotAuthenticated);
        let gone = fault(
            r#"<ManagedObjectNotFoundFault xmlns="urn:vim25" xsi:type="ManagedObjectNotFound"/>"#,
        );
        assert_eq!(gone.kind(), SoapErrorKind::ManagedObjectNotFound);
        let other =
            fault(r#"<InvalidArgumentFault xmlns="urn:vim25" xsi:type="InvalidArgument"/>"#);
        assert_eq!(other.to_string(), "InvalidArgument: it failed");
    }
}
