//! The audit trail: append-only, hash-chained events written in the same transaction as
//! the change they record, and the verifier that walks the chain.
//!
//! Events form chains: one per district (events about a district's records), one per acting
//! user for events without a district, one for the command line and one for anonymous
//! attempts. Within a chain each event's `mac` is HMAC-SHA256(audit key, `prev_mac` |
//! canonical JSON of the event), and sequence numbers are gapless, taken from the chain's
//! `audit_chains` row inside the writing transaction. That row lock orders the chain's
//! concurrent writers on PostgreSQL, while writers of different districts proceed in
//! parallel (one global chain serialised every write through its commit and halved
//! registration throughput). Events carry ids and field names only, never personal data.

pub mod repo;
pub mod verify;

use aws_lc_rs::hmac;
use chrono::{NaiveDateTime, Timelike, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Role;
use crate::config::Secret;
use crate::db::DbConnection;
use crate::db::schema::{audit_chains, audit_events};
use crate::per_backend;

pub use repo::{AuditEventView, AuditFilter};
pub use verify::{VerifyReport, verify_chain};

/// The key of the hash chain.
#[derive(Clone)]
pub struct AuditKey(hmac::Key);

impl AuditKey {
    /// A chain key from the configured secret.
    pub fn new(secret: &Secret) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret.expose()))
    }

    fn mac(&self, prev_mac: &str, canonical: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(prev_mac.as_bytes());
        ctx.update(b"|");
        ctx.update(canonical);
        hex(ctx.sign().as_ref())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who caused an event and from where.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    /// The acting user's id (none for an unknown login name or the CLI).
    pub user_id: Option<String>,
    /// The acting user's name (staff, not beneficiaries), or `cli` for the command line.
    pub username: Option<String>,
    /// The acting user's role (`system` for the command line).
    pub role: Option<String>,
    /// The HTTP request id.
    pub request_id: Option<String>,
    /// The client's socket address (IP only).
    pub client_addr: Option<String>,
}

impl AuditContext {
    /// The context of a command run from the `sahulat` CLI by an operator on the host.
    pub fn cli() -> Self {
        Self { username: Some("cli".into()), role: Some("system".into()), ..Self::default() }
    }

    /// The service itself (seeding the rules, scheduled activations).
    pub fn system() -> Self {
        Self { username: Some("system".into()), role: Some("system".into()), ..Self::default() }
    }

    /// Sets the acting user.
    pub fn with_user(mut self, id: &str, username: &str, role: Role) -> Self {
        self.user_id = Some(id.into());
        self.username = Some(username.into());
        self.role = Some(role.as_str().into());
        self
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused (bad credentials, permission, validation).
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened, e.g. `login`, `user_create`.
    pub action: String,
    /// The kind of object acted on, e.g. `user`.
    pub object_type: Option<String>,
    /// The object's id.
    pub object_id: Option<String>,
    /// The district the object belongs to, when it has one.
    pub district_code: Option<String>,
    /// Success or denial.
    pub outcome: Outcome,
    /// Non-personal details: changed field names, reason codes.
    pub details: serde_json::Value,
}

impl Event {
    /// A successful `action` with no object.
    pub fn new(action: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            object_type: None,
            object_id: None,
            district_code: None,
            outcome: Outcome::Success,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    /// Names the object acted on.
    pub fn object(mut self, object_type: &str, id: impl Into<String>) -> Self {
        self.object_type = Some(object_type.into());
        self.object_id = Some(id.into());
        self
    }

    /// Sets the district.
    pub fn district(mut self, code: impl Into<String>) -> Self {
        self.district_code = Some(code.into());
        self
    }

    /// Marks the event as a denial.
    pub fn denied(mut self) -> Self {
        self.outcome = Outcome::Denied;
        self
    }

    /// Attaches non-personal details.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// The chain an event belongs to.
pub fn chain_of(ctx: &AuditContext, event: &Event) -> String {
    match (&event.district_code, &ctx.user_id, &ctx.username) {
        (Some(district), _, _) => format!("district:{district}"),
        (None, Some(user), _) => format!("user:{user}"),
        (None, None, Some(name)) if name == "cli" => "cli".into(),
        // The service itself: seeding the rules, scheduled activations.
        (None, None, Some(name)) if name == "system" => "system".into(),
        _ => "anonymous".into(),
    }
}

/// The exact bytes the MAC covers. Field order is fixed by the struct.
#[derive(Serialize)]
pub(crate) struct Canonical<'a> {
    pub id: &'a str,
    pub chain_id: &'a str,
    pub seq: i64,
    pub occurred_at: String,
    pub actor_user_id: Option<&'a str>,
    pub actor_username: Option<&'a str>,
    pub actor_role: Option<&'a str>,
    pub action: &'a str,
    pub object_type: Option<&'a str>,
    pub object_id: Option<&'a str>,
    pub district_code: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub outcome: &'a str,
    pub details: &'a str,
}

impl Canonical<'_> {
    pub(crate) fn mac(&self, key: &AuditKey, prev_mac: &str) -> String {
        // Serialising a struct of strings and integers cannot fail.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        key.mac(prev_mac, &bytes)
    }
}

/// Timestamps are kept to the microsecond so both databases store them exactly.
pub fn now_micros() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000).unwrap_or(now)
}

pub(crate) fn format_ts(ts: &NaiveDateTime) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewAuditEvent {
    id: String,
    chain_id: String,
    seq: i64,
    occurred_at: NaiveDateTime,
    actor_user_id: Option<String>,
    actor_username: Option<String>,
    actor_role: Option<String>,
    action: String,
    object_type: Option<String>,
    object_id: Option<String>,
    district_code: Option<String>,
    request_id: Option<String>,
    client_addr: Option<String>,
    outcome: String,
    details: String,
    prev_mac: String,
    mac: String,
}

/// Rows per INSERT statement (PostgreSQL allows 65,535 bind parameters; 17 per row).
const INSERT_CHUNK: usize = 1_000;

/// Reads `chain`'s head (last seq and MAC), locking it until the transaction ends, and
/// creates the chain on first use. On SQLite the write transaction already holds the lock.
fn lock_chain(conn: &mut DbConnection, chain: &str) -> QueryResult<(i64, String)> {
    for _ in 0..2 {
        let query = audit_chains::table.find(chain).select((audit_chains::last_seq, audit_chains::last_mac));
        let head: Option<(i64, String)> = match conn {
            DbConnection::Postgres(c) => query.for_update().first(c).optional()?,
            DbConnection::Sqlite(c) => query.first(c).optional()?,
        };
        if let Some(head) = head {
            return Ok(head);
        }
        let row = (
            audit_chains::chain_id.eq(chain),
            audit_chains::last_seq.eq(0_i64),
            audit_chains::last_mac.eq(verify::GENESIS_MAC),
        );
        per_backend!(conn, |c| diesel::insert_into(audit_chains::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Err(diesel::result::Error::NotFound)
}

/// Appends one event. Call it inside the transaction of the change it records, so the
/// change and its event commit or roll back together. Returns the event's id.
pub fn record(conn: &mut DbConnection, key: &AuditKey, ctx: &AuditContext, event: &Event) -> QueryResult<String> {
    let mut ids = record_many(conn, key, ctx, std::slice::from_ref(event))?;
    Ok(ids.pop().unwrap_or_default())
}

/// Appends several events (a bulk import's), in order: each chain's head is locked and
/// moved once, and the rows go in multi-row INSERTs. Same transaction rule as [`record`].
/// Returns the events' ids in the order given.
pub fn record_many(
    conn: &mut DbConnection,
    key: &AuditKey,
    ctx: &AuditContext,
    events: &[Event],
) -> QueryResult<Vec<String>> {
    let chains: Vec<String> = events.iter().map(|e| chain_of(ctx, e)).collect();
    let mut heads: Vec<(String, i64, String)> = Vec::new();
    let mut rows = Vec::with_capacity(events.len());
    for (event, chain) in events.iter().zip(&chains) {
        let head = match heads.iter().position(|(c, _, _)| c == chain) {
            Some(at) => at,
            None => {
                // One UPDATE per chain and call: each row version of a hot chain head
                // costs every later reader.
                let (seq, mac) = lock_chain(conn, chain)?;
                heads.push((chain.clone(), seq, mac));
                heads.len() - 1
            }
        };
        let (_, last_seq, prev_mac) = &mut heads[head];
        let seq = *last_seq + 1;
        let id = uuid::Uuid::now_v7().to_string();
        let occurred_at = now_micros();
        let details = event.details.to_string();
        let mac = Canonical {
            id: &id,
            chain_id: chain,
            seq,
            occurred_at: format_ts(&occurred_at),
            actor_user_id: ctx.user_id.as_deref(),
            actor_username: ctx.username.as_deref(),
            actor_role: ctx.role.as_deref(),
            action: &event.action,
            object_type: event.object_type.as_deref(),
            object_id: event.object_id.as_deref(),
            district_code: event.district_code.as_deref(),
            request_id: ctx.request_id.as_deref(),
            client_addr: ctx.client_addr.as_deref(),
            outcome: event.outcome.as_str(),
            details: &details,
        }
        .mac(key, prev_mac);
        rows.push(NewAuditEvent {
            id,
            chain_id: chain.clone(),
            seq,
            occurred_at,
            actor_user_id: ctx.user_id.clone(),
            actor_username: ctx.username.clone(),
            actor_role: ctx.role.clone(),
            action: event.action.clone(),
            object_type: event.object_type.clone(),
            object_id: event.object_id.clone(),
            district_code: event.district_code.clone(),
            request_id: ctx.request_id.clone(),
            client_addr: ctx.client_addr.clone(),
            outcome: event.outcome.as_str().to_string(),
            details,
            prev_mac: std::mem::replace(prev_mac, mac.clone()),
            mac,
        });
        *last_seq = seq;
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        per_backend!(conn, |c| diesel::insert_into(audit_events::table).values(chunk).execute(c))?;
    }
    for (chain, seq, mac) in &heads {
        diesel::update(audit_chains::table.find(chain))
            .set((audit_chains::last_seq.eq(seq), audit_chains::last_mac.eq(mac)))
            .execute(conn)?;
    }
    Ok(rows.into_iter().map(|r| r.id).collect())
}
