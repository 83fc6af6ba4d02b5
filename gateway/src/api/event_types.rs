//! `GET /system/event-types?source=&known=`: the event catalog. Every event type seen, per
//! ingesting source, with its count, first and last time seen and its latest example; for a
//! vCenter source, `known=true` adds every class the vSphere schema knows (count 0), so that
//! filters can be written before such an event ever happened.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use switchyard_broker::catalog::EventType;
use switchyard_broker::errors::error_chain;
use switchyard_broker::records::{vsphere_event_classes, SourceSpec};

use super::AppState;
use crate::access::Caller;
use crate::error::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CatalogQuery {
    /// Only what this source (its name, or `reply`) took in.
    source: Option<String>,
    /// With a vCenter `source`: also every class the vSphere schema knows.
    #[serde(default)]
    known: bool,
}

#[utoipa::path(get, path = "/system/event-types", tag = "events", params(CatalogQuery),
    responses(
        (status = 200, body = Vec<EventType>),
        (status = 400, description = "`known` without a vCenter source", body = String, content_type = "text/plain"),
        (status = 503, body = String, content_type = "text/plain"),
    ))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<CatalogQuery>,
) -> Result<Json<Vec<EventType>>, ApiError> {
    caller.operator(&state, "the event catalog of every organization")?;
    let mut entries = state.catalog.list().await.map_err(|e| {
        ApiError::Unavailable(format!("event catalog unavailable: {}", error_chain(&e)))
    })?;
    if let Some(source) = query.source.as_deref().filter(|s| !s.is_empty()) {
        entries.retain(|e| e.source == source);
        if query.known {
            let is_vcenter = state
                .sources
                .get(source)
                .is_some_and(|s| matches!(s.spec, SourceSpec::Vcenter(_)));
            if !is_vcenter {
                return Err(ApiError::BadRequest(format!(
                    "`known` lists the classes of a vCenter source; `{source}` is not one"
                )));
            }
            for class in vsphere_event_classes() {
                let event_type = format!("com.vmware.vsphere.{class}.v0");
                if !entries.iter().any(|e| e.event_type == event_type) {
                    entries.push(EventType {
                        source: source.to_string(),
                        event_type,
                        count: 0,
                        first_seen: None,
                        last_seen: None,
                        example_sequence: 0,
                        example: None,
                    });
                }
            }
            entries.sort_by(|a, b| a.event_type.cmp(&b.event_type));
        }
    } else if query.known {
        return Err(ApiError::BadRequest(
            "`known` needs `source`: the vCenter source whose classes to list".into(),
        ));
    }
    Ok(Json(entries))
}
