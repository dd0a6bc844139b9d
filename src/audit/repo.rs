//! Reading the audit trail: stored rows and the filtered, keyset-paginated listing.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::audit_events;

/// A stored audit event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEventRow {
    pub id: String,
    pub chain_id: String,
    pub seq: i64,
    pub occurred_at: NaiveDateTime,
    pub actor_user_id: Option<String>,
    pub actor_username: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub district_code: Option<String>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: String,
    pub details: String,
    pub prev_mac: String,
    pub mac: String,
}

/// An audit event as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Event id (time-ordered; the pagination cursor).
    pub id: String,
    /// The chain the event belongs to (`district:…`, `user:…`, `cli`, `anonymous`).
    pub chain_id: String,
    /// Position in its chain (gapless, from 1).
    pub seq: i64,
    /// When it happened (UTC, RFC 3339 with the `Z` offset).
    #[schema(format = DateTime)]
    pub occurred_at: String,
    /// The acting user's id.
    pub actor_user_id: Option<String>,
    /// The acting user's name.
    pub actor_username: Option<String>,
    /// The acting user's role.
    pub actor_role: Option<String>,
    /// What happened.
    pub action: String,
    /// Kind of object acted on.
    pub object_type: Option<String>,
    /// Id of the object acted on.
    pub object_id: Option<String>,
    /// District of the object, if any.
    pub district_code: Option<String>,
    /// Request id (matches the service log).
    pub request_id: Option<String>,
    /// Client address.
    pub client_addr: Option<String>,
    /// `success` or `denied`.
    pub outcome: String,
    /// Non-personal details (field names, reason codes).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// This event's chain MAC.
    pub mac: String,
}

impl From<AuditEventRow> for AuditEventView {
    fn from(row: AuditEventRow) -> Self {
        Self {
            id: row.id,
            chain_id: row.chain_id,
            seq: row.seq,
            occurred_at: super::format_ts(&row.occurred_at),
            actor_user_id: row.actor_user_id,
            actor_username: row.actor_username,
            actor_role: row.actor_role,
            action: row.action,
            object_type: row.object_type,
            object_id: row.object_id,
            district_code: row.district_code,
            request_id: row.request_id,
            client_addr: row.client_addr,
            outcome: row.outcome,
            details: serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null),
            mac: row.mac,
        }
    }
}

/// Filters for listing events; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_user_id: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Restrict to these districts (an auditor with assigned districts).
    pub districts: Option<Vec<String>>,
    /// Only events older than this event id (keyset cursor; newest first).
    pub before_id: Option<String>,
}

/// Lists events newest first, at most `limit`.
pub fn list(conn: &mut DbConnection, filter: &AuditFilter, limit: i64) -> QueryResult<Vec<AuditEventRow>> {
    let mut query = audit_events::table.select(AuditEventRow::as_select()).into_boxed();
    if let Some(v) = &filter.action {
        query = query.filter(audit_events::action.eq(v.clone()));
    }
    if let Some(v) = &filter.actor_user_id {
        query = query.filter(audit_events::actor_user_id.eq(v.clone()));
    }
    if let Some(v) = &filter.object_type {
        query = query.filter(audit_events::object_type.eq(v.clone()));
    }
    if let Some(v) = &filter.object_id {
        query = query.filter(audit_events::object_id.eq(v.clone()));
    }
    if let Some(v) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(v));
    }
    if let Some(v) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(v));
    }
    if let Some(codes) = &filter.districts {
        query = query.filter(audit_events::district_code.eq_any(codes.clone()));
    }
    if let Some(v) = &filter.before_id {
        query = query.filter(audit_events::id.lt(v.clone()));
    }
    query.order(audit_events::id.desc()).limit(limit).load(conn)
}

/// Loads events of `chain` with `seq > after`, oldest first (for verification).
pub fn batch_after(conn: &mut DbConnection, chain: &str, after: i64, limit: i64) -> QueryResult<Vec<AuditEventRow>> {
    audit_events::table
        .select(AuditEventRow::as_select())
        .filter(audit_events::chain_id.eq(chain))
        .filter(audit_events::seq.gt(after))
        .order(audit_events::seq.asc())
        .limit(limit)
        .load(conn)
}
