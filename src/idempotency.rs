//! `Idempotency-Key` for POSTs that create things: the first request's answer is stored in
//! the same transaction as what it created; a retry with the same key and body gets that
//! answer back and creates nothing; the same key with another body is refused. Keys are
//! per user, so one user can never see another's stored answer.

use aws_lc_rs::digest;
use diesel::prelude::*;
use serde_json::Value;

use crate::audit::now_micros;
use crate::db::schema::idempotency_keys;
use crate::db::{DbConnection, write_tx};
use crate::error::ApiError;

/// A response as stored for replay.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers to replay (e.g. `Location`, `ETag`).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Value,
    /// True when this is a replay of an earlier answer.
    pub replayed: bool,
}

impl StoredResponse {
    /// A fresh (not replayed) response.
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Value) -> Self {
        Self { status, headers, body, replayed: false }
    }
}

/// Checks a client-supplied key: 1–255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "malformed_idempotency_key",
            "Idempotency-Key must be 1–255 visible ASCII characters (a UUID is a good choice)",
        ));
    }
    Ok(())
}

/// The fingerprint of a request: method, path and canonical JSON body.
pub fn fingerprint(method: &str, path: &str, body: &Value) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(method.as_bytes());
    ctx.update(b" ");
    ctx.update(path.as_bytes());
    ctx.update(b"\n");
    // serde_json's map keeps keys sorted, so equal bodies serialise identically.
    ctx.update(body.to_string().as_bytes());
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

type Row = (String, i32, String, String);

fn find(conn: &mut DbConnection, user_id: &str, key: &str) -> QueryResult<Option<Row>> {
    idempotency_keys::table
        .find((user_id, key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status_code,
            idempotency_keys::response_headers,
            idempotency_keys::response_body,
        ))
        .first(conn)
        .optional()
}

fn replay(row: Row, request_hash: &str) -> Result<StoredResponse, ApiError> {
    let (stored_hash, status, headers, body) = row;
    if stored_hash != request_hash {
        return Err(ApiError::Validation(vec![crate::error::FieldError::new(
            "Idempotency-Key",
            "idempotency_key_reused",
            "this key was already used for a different request; use a new key",
        )]));
    }
    let headers: Vec<(String, String)> = serde_json::from_str(&headers).unwrap_or_default();
    let body = serde_json::from_str(&body).unwrap_or(Value::Null);
    Ok(StoredResponse { status: status as u16, headers, body, replayed: true })
}

/// Runs `create` in a write transaction, once per `(user, key)`.
pub fn execute<F>(
    conn: &mut DbConnection,
    user_id: &str,
    key: Option<&str>,
    request_hash: &str,
    create: F,
) -> Result<StoredResponse, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<StoredResponse, ApiError>,
{
    let Some(key) = key else {
        return write_tx(conn, create);
    };
    let outcome = write_tx(conn, |c| {
        if let Some(row) = find(c, user_id, key)? {
            return replay(row, request_hash);
        }
        // Claim the key first: a concurrent retry blocks here until this commits, then
        // fails on the primary key and replays the stored answer below.
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::user_id.eq(user_id),
                idempotency_keys::idempotency_key.eq(key),
                idempotency_keys::request_hash.eq(request_hash),
                idempotency_keys::status_code.eq(0),
                idempotency_keys::response_headers.eq("[]"),
                idempotency_keys::response_body.eq("null"),
                idempotency_keys::created_at.eq(now_micros()),
            ))
            .execute(c)?;
        let response = create(c)?;
        diesel::update(idempotency_keys::table.find((user_id, key)))
            .set((
                idempotency_keys::status_code.eq(i32::from(response.status)),
                idempotency_keys::response_headers.eq(serde_json::to_string(&response.headers).unwrap_or_default()),
                idempotency_keys::response_body.eq(response.body.to_string()),
            ))
            .execute(c)?;
        Ok(response)
    });
    match outcome {
        Err(error) => match find(conn, user_id, key) {
            // Someone else's transaction with this key committed meanwhile.
            Ok(Some(row)) if row.1 != 0 => replay(row, request_hash),
            _ => Err(error),
        },
        ok => ok,
    }
}
