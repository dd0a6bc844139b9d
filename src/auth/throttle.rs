//! Login throttling against password guessing. Two limits, checked before any password is
//! hashed:
//!
//! - **Per account:** after `max_failures` failed logins in a row, the account backs off:
//!   `backoff` for the first extra failure, doubling with each further one up to 15
//!   minutes. While it backs off every attempt gets 429 — the right password too — so a
//!   guesser cannot use the back-off window to test passwords. A successful login clears it.
//!   Unknown user names are tracked exactly like real ones, so the answers do not reveal
//!   which accounts exist.
//! - **Per address:** at most `per_address` attempts a minute from one client address.
//!
//! State is in memory, per service instance (a restart clears it), and bounded: idle
//! entries are dropped when a table grows past [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// The per-address window.
const WINDOW: Duration = Duration::from_secs(60);
/// Failures are forgotten after this long without another.
const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);
/// Entries per table before idle ones are dropped.
pub const MAX_ENTRIES: usize = 10_000;

/// The limits (from `SAHULAT_LOGIN_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures in a row allowed before the account backs off.
    pub max_failures: u32,
    /// The first back-off; each further failure doubles it.
    pub backoff: Duration,
    /// Login attempts per minute from one address.
    pub per_address: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { max_failures: 5, backoff: Duration::from_secs(60), per_address: 30 }
    }
}

#[derive(Debug)]
struct Account {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    attempts: u32,
}

#[derive(Debug, Default)]
struct Tables {
    accounts: HashMap<String, Account>,
    addresses: HashMap<IpAddr, Window>,
}

/// Why an attempt was refused, and for how long (whole seconds, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The account is backing off after failed logins.
    Account(u64),
    /// Too many attempts from this address.
    Address(u64),
}

impl Refusal {
    /// Seconds until an attempt may succeed.
    pub fn retry_after_secs(self) -> u64 {
        match self {
            Self::Account(s) | Self::Address(s) => s,
        }
    }
}

/// The throttle shared by all workers.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    tables: Mutex<Tables>,
}

fn secs_until(when: Instant, now: Instant) -> u64 {
    when.saturating_duration_since(now).as_secs_f64().ceil().max(1.0) as u64
}

/// Account keys ignore case and surrounding blanks, so `Amina` cannot dodge `amina`'s back-off.
fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl LoginThrottle {
    /// A throttle with these limits.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy, tables: Mutex::default() }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // The tables stay consistent even if a holder panicked: every update is one step.
        self.tables.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts an attempt and says whether it may go ahead.
    pub fn check(&self, username: &str, address: Option<IpAddr>, now: Instant) -> Result<(), Refusal> {
        let mut t = self.tables();
        if let Some(ip) = address {
            if t.addresses.len() >= MAX_ENTRIES && !t.addresses.contains_key(&ip) {
                t.addresses.retain(|_, w| now.duration_since(w.started) < WINDOW);
            }
            let w = t.addresses.entry(ip).or_insert(Window { started: now, attempts: 0 });
            if now.duration_since(w.started) >= WINDOW {
                *w = Window { started: now, attempts: 0 };
            }
            w.attempts = w.attempts.saturating_add(1);
            if w.attempts > self.policy.per_address {
                return Err(Refusal::Address(secs_until(w.started + WINDOW, now)));
            }
        }
        match t.accounts.get(&account_key(username)).and_then(|a| a.locked_until) {
            Some(until) if until > now => Err(Refusal::Account(secs_until(until, now))),
            _ => Ok(()),
        }
    }

    /// Records a failed login (wrong password, unknown or disabled account).
    pub fn failed(&self, username: &str, now: Instant) {
        let policy = self.policy;
        let mut t = self.tables();
        let key = account_key(username);
        if t.accounts.len() >= MAX_ENTRIES && !t.accounts.contains_key(&key) {
            t.accounts.retain(|_, a| {
                a.locked_until.is_some_and(|u| u > now) || now.duration_since(a.last_failure) < FORGET_AFTER
            });
        }
        let a = t.accounts.entry(key).or_insert(Account { failures: 0, last_failure: now, locked_until: None });
        if now.duration_since(a.last_failure) >= FORGET_AFTER {
            a.failures = 0;
        }
        a.failures = a.failures.saturating_add(1);
        a.last_failure = now;
        if a.failures >= policy.max_failures {
            let doublings = (a.failures - policy.max_failures).min(16);
            let backoff = policy.backoff.saturating_mul(1 << doublings).min(MAX_BACKOFF);
            a.locked_until = Some(now + backoff);
        }
    }

    /// Records a successful login: the account's failures are forgotten.
    pub fn succeeded(&self, username: &str) {
        self.tables().accounts.remove(&account_key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy { max_failures: 5, backoff: Duration::from_secs(10), per_address: 100 }
    }

    #[test]
    fn five_failures_start_a_doubling_backoff_that_a_success_clears() {
        let t = LoginThrottle::new(policy());
        let now = Instant::now();
        for _ in 0..4 {
            t.failed("amina", now);
            assert_eq!(t.check("amina", None, now), Ok(()));
        }
        t.failed("amina", now);
        assert_eq!(t.check("Amina ", None, now), Err(Refusal::Account(10)), "case and blanks do not dodge it");
        assert_eq!(t.check("amina", None, now + Duration::from_secs(10)), Ok(()));
        t.failed("amina", now + Duration::from_secs(10));
        assert_eq!(t.check("amina", None, now + Duration::from_secs(10)), Err(Refusal::Account(20)));
        assert_eq!(t.check("bilal", None, now), Ok(()), "other accounts are not affected");
        t.succeeded("amina");
        assert_eq!(t.check("amina", None, now + Duration::from_secs(10)), Ok(()));
    }

    #[test]
    fn the_backoff_is_capped_and_old_failures_are_forgotten() {
        let t = LoginThrottle::new(policy());
        let now = Instant::now();
        for _ in 0..40 {
            t.failed("x", now);
        }
        assert_eq!(t.check("x", None, now), Err(Refusal::Account(MAX_BACKOFF.as_secs())));
        let later = now + FORGET_AFTER + MAX_BACKOFF;
        t.failed("x", later);
        assert_eq!(t.check("x", None, later), Ok(()), "one failure after a long quiet is the first again");
    }

    #[test]
    fn an_address_gets_a_fixed_number_of_attempts_a_minute() {
        let t = LoginThrottle::new(ThrottlePolicy { per_address: 3, ..policy() });
        let ip: IpAddr = "10.0.0.7".parse().expect("ip");
        let now = Instant::now();
        for i in 0..3 {
            assert_eq!(t.check(&format!("user{i}"), Some(ip), now), Ok(()));
        }
        assert_eq!(t.check("user9", Some(ip), now + Duration::from_secs(15)), Err(Refusal::Address(45)));
        assert_eq!(t.check("user9", Some("10.0.0.8".parse().expect("ip")), now), Ok(()));
        assert_eq!(t.check("user9", Some(ip), now + WINDOW), Ok(()), "a new minute");
    }

    #[test]
    fn the_tables_stay_bounded() {
        let t = LoginThrottle::new(policy());
        let start = Instant::now();
        for i in 0..MAX_ENTRIES + 10 {
            t.failed(&format!("name{i}"), start);
        }
        // Everything is still fresh, so nothing could be dropped yet...
        assert!(t.tables().accounts.len() > MAX_ENTRIES);
        // ...but once idle, the next new name sweeps them.
        t.failed("late", start + FORGET_AFTER);
        assert_eq!(t.tables().accounts.len(), 1);
    }
}
