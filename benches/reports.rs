//! Monitoring-report benchmarks (a bench binary, not a timed test): figures for the issue
//! notes, on a registry `sahulat demo-data` filled and `sahulat screen --all` decided.
//!
//! ```sh
//! cargo bench --bench reports -- seed --share 0.5 [--seed 11] [--today YYYY-MM-DD]
//! cargo bench --bench reports -- run [--district peshawar] [--repeat 3] [--as-of YYYY-MM-DD]
//!     [--report coverage|gaps|funnel] [--scope province|district] [--pragma 'mmap_size=…']
//! ```
//!
//! The database is `--database URL` or `BENCH_DATABASE_URL` (`sqlite://PATH` or
//! `postgres://…`), used in place: `seed` writes into it.
//!
//! `seed` refers a share of the (household, scheme) pairs the stored decisions say are
//! eligible and gives each referral a lifecycle in its ledger, as the service would have
//! written it: created `referred`; acknowledged 1 day to the scheme's deadline later (at most
//! 40 days); then enrolled or rejected; some withdrawn; some left unacknowledged past the
//! deadline and expired by a `system` event. Referral dates are spread over the 180 days
//! before `--today`; nothing happens on or after it. Shares of final statuses: 15 % referred,
//! 10 % expired, 5 % withdrawn, 20 % acknowledged, 40 % enrolled, 10 % rejected (and
//! `referrals.acknowledged_at` set with the acknowledgement step). Each household's
//! draws come from the seed and its household number, so the same demo data gets the same
//! referrals on either database. Rows are written in time order (referrals by date, each
//! ledger step when its time comes), so the tables are laid out as a live registry's are, not
//! by household. No audit events are written (the reports do not read them).
//! It refuses a database that already has referrals.
//!
//! `run` times `sahulat::reports::build` for each report, over the whole province and then
//! for one district, and prints the best and median time, the number of tables, the
//! registered households and people, and the peak resident memory of the process while the
//! report was built (`VmHWM`, reset before each report through `/proc/self/clear_refs`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use sahulat::db::schema::{decision_changes, household_decisions, households, members, referral_events, referrals};
use sahulat::db::{self, DatabaseUrl, DbConnection};
use sahulat::referrals::ReferralEvent;
use sahulat::registry::demo::Rng;
use sahulat::registry::warnings::today_in_pakistan;
use sahulat::reports::{self, Params, ReportKind};
use sahulat::rules::{RuleSet, load_dir};

/// Households read per query while seeding.
const READ_CHUNK: i64 = 20_000;
/// Referrals written per transaction (with their events).
const TX_ROWS: usize = 10_000;
/// Rows per multi-row INSERT (PostgreSQL allows 65,535 parameters per statement).
const INSERT_ROWS: usize = 2_000;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let command = argv.first().cloned().unwrap_or_default();
    let args: HashMap<String, String> = argv
        .windows(2)
        .filter(|w| w[0].starts_with("--"))
        .map(|w| (w[0].trim_start_matches("--").to_string(), w[1].clone()))
        .collect();
    let raw = args
        .get("database")
        .cloned()
        .or_else(|| std::env::var("BENCH_DATABASE_URL").ok())
        .unwrap_or_else(|| panic!("give --database URL or BENCH_DATABASE_URL (sqlite://PATH or postgres://…)"));
    let url = DatabaseUrl::parse(&raw).unwrap_or_else(|e| panic!("{e}"));
    sahulat::startup::migrate(&url).unwrap_or_else(|e| panic!("migrate: {e}"));
    // `run` reads with the settings the service and `sahulat report` use; `seed` is a bulk job.
    let mut conn = db::connect(&url).unwrap_or_else(|e| panic!("connect: {e}"));
    if command == "seed" {
        db::tune_for_bulk(&mut conn).unwrap_or_else(|e| panic!("tune: {e}"));
    }
    // `--pragma 'mmap_size=1073741824'`: an SQLite setting to try against the service's (for
    // diagnosis only; ignored on PostgreSQL).
    if let (Some(pragma), DbConnection::Sqlite(c)) = (args.get("pragma"), &mut conn) {
        use diesel::connection::SimpleConnection;
        c.batch_execute(&format!("PRAGMA {pragma};")).unwrap_or_else(|e| panic!("PRAGMA {pragma}: {e}"));
        println!("PRAGMA {pragma}");
    }
    let dir = std::env::var("SAHULAT_RULES_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"));
    let rules = load_dir(&dir).unwrap_or_else(|d| panic!("{} does not load: {d:?}", dir.display()));
    println!("database {}; rules {} ({} schemes)", url.backend(), &rules.version[..12], rules.schemes.len());
    match command.as_str() {
        "seed" => seed(&mut conn, &rules, &args),
        "run" => run(&mut conn, &rules, &args),
        other => eprintln!("unknown command {other:?}: seed | run"),
    }
}

fn date_arg(args: &HashMap<String, String>, name: &str) -> Option<NaiveDate> {
    args.get(name).map(|v| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").unwrap_or_else(|e| panic!("--{name} {v:?}: {e} (YYYY-MM-DD)"))
    })
}

/// Midnight starting `day` in Pakistan (UTC+5), as the UTC timestamp the database stores.
fn pk_midnight(day: NaiveDate) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).unwrap_or_default() - TimeDelta::hours(5)
}

fn pk_date(at: NaiveDateTime) -> NaiveDate {
    (at + TimeDelta::hours(5)).date()
}

/// A version 7 UUID for `at` with seeded random bits: ids sort by time as the service's do.
fn id_at(at: NaiveDateTime, rng: &mut Rng) -> uuid::Uuid {
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes()[..2]);
    let millis = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or_default();
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

/// FNV-1a: a household's own stream of draws, from the seed and its household number.
fn household_seed(seed: u64, household_number: &str) -> u64 {
    household_number.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// A duration between `low` and `high` seconds, skewed towards `low` (most offices answer
/// early, a few late).
fn skewed(rng: &mut Rng, low: i64, high: i64) -> TimeDelta {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    TimeDelta::seconds(low + ((high - low).max(0) as f64 * u * u) as i64) + micros(rng)
}

/// Timestamps carry microseconds, as the service's do.
fn micros(rng: &mut Rng) -> TimeDelta {
    TimeDelta::microseconds(rng.range(0, 999_999))
}

fn uniform(rng: &mut Rng, low: i64, high: i64) -> TimeDelta {
    TimeDelta::seconds(if high <= low { low } else { rng.range(low, high) }) + micros(rng)
}

const DAY: i64 = 86_400;

/// The final statuses and their shares.
const OUTCOMES: [(&str, f64); 6] = [
    ("referred", 0.15),
    ("expired", 0.10),
    ("withdrawn", 0.05),
    ("acknowledged", 0.20),
    ("enrolled", 0.40),
    ("rejected", 0.10),
];

const WITHDRAWALS: [&str; 3] =
    ["the household moved out of the district", "the family asked to withdraw", "referred to the wrong scheme"];
const REJECTIONS: [&str; 4] = [
    "documents incomplete",
    "the office found the household above the cut-off",
    "already a beneficiary under another number",
    "did not attend the office visit",
];

const STATUSES: [&str; 6] = ["referred", "acknowledged", "enrolled", "rejected", "withdrawn", "expired"];
const REFERRED: u8 = 0;
const ACKNOWLEDGED: u8 = 1;
const ENROLLED: u8 = 2;
const REJECTED: u8 = 3;
const WITHDRAWN: u8 = 4;
const EXPIRED: u8 = 5;

/// Who took a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    /// A clerk of the household's district (one of four).
    Clerk(i64),
    /// The scheme's administrator.
    Admin,
    /// The expiry.
    System,
}

/// One step of a referral's lifecycle, held until the ledger reaches its time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Step {
    at: NaiveDateTime,
    id: u128,
    referral: u128,
    household: u128,
    district: u16,
    scheme: u16,
    from: Option<u8>,
    to: u8,
    reason: Option<&'static str>,
    who: Who,
}

/// A referral row as the service leaves it: `referrals.acknowledged_at` is set with the
/// ledger's acknowledgement step.
#[derive(Insertable)]
#[diesel(table_name = referrals)]
struct NewReferral {
    id: String,
    referral_number: String,
    household_id: String,
    district_code: String,
    scheme_id: String,
    status: String,
    eligibility: String,
    override_reason: Option<String>,
    rules_version: String,
    referred_by: String,
    referred_at: NaiveDateTime,
    acknowledge_by: NaiveDate,
    updated_at: NaiveDateTime,
    acknowledged_at: Option<NaiveDateTime>,
}

/// A referral's whole lifecycle, drawn from its pair's own generator.
struct Lifecycle {
    outcome: u8,
    referred_at: NaiveDateTime,
    acknowledge_by: NaiveDate,
    clerk: i64,
    /// (time, from, to, reason, who), oldest first.
    steps: Vec<(NaiveDateTime, u8, u8, Option<&'static str>, Who)>,
}

/// The window referrals are dated in: from `start` to before `end` (midnight starting `today`).
struct Window {
    start: NaiveDateTime,
    end: NaiveDateTime,
    today: NaiveDate,
}

impl Window {
    fn draw(&self, rng: &mut Rng, within: u32) -> Lifecycle {
        let within = i64::from(within);
        let mut u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let outcome = OUTCOMES
            .iter()
            .position(|(_, share)| {
                u -= share;
                u < 0.0
            })
            .map_or(REJECTED, |k| STATUSES.iter().position(|s| *s == OUTCOMES[k].0).unwrap_or(0) as u8);
        let from_acknowledged = outcome == WITHDRAWN && rng.chance(0.5);
        let clerk = rng.range(1, 4);
        // Offsets from the referral: acknowledged 1 day to the deadline (at most 40 days) later.
        let ack = skewed(rng, DAY, within.min(40) * DAY);
        let mut steps: Vec<(TimeDelta, u8, u8, Option<&'static str>, Who)> = Vec::new();
        if matches!(outcome, ACKNOWLEDGED | ENROLLED | REJECTED) || from_acknowledged {
            steps.push((ack, REFERRED, ACKNOWLEDGED, None, Who::Admin));
        }
        match outcome {
            ENROLLED => steps.push((ack + uniform(rng, DAY, 60 * DAY), ACKNOWLEDGED, ENROLLED, None, Who::Admin)),
            REJECTED => {
                let reason = *rng.pick(&REJECTIONS);
                steps.push((ack + uniform(rng, DAY, 45 * DAY), ACKNOWLEDGED, REJECTED, Some(reason), Who::Admin));
            }
            WITHDRAWN => {
                let reason = Some(*rng.pick(&WITHDRAWALS));
                if from_acknowledged {
                    steps.push((ack + uniform(rng, DAY, 30 * DAY), ACKNOWLEDGED, WITHDRAWN, reason, Who::Clerk(clerk)));
                } else {
                    // Before the deadline, or it would have expired first.
                    let at = uniform(rng, 3600, within * DAY - 3600);
                    steps.push((at, REFERRED, WITHDRAWN, reason, Who::Clerk(clerk)));
                }
            }
            _ => {}
        }
        // Expiry: after the deadline's last day, when the next read or the log found it (0–10 days).
        let lag = uniform(rng, 60, 10 * DAY);
        // The referral time: the whole lifecycle before `end`.
        let referred_at = if outcome == REFERRED {
            // Still waiting: its deadline is today or later.
            let earliest = pk_midnight(self.today - Days::new(within as u64)).max(self.start);
            earliest + uniform(rng, 0, (self.end - earliest).num_seconds() - 2)
        } else {
            let span = if outcome == EXPIRED {
                TimeDelta::days(within + 1) + lag
            } else {
                steps.last().map_or(TimeDelta::zero(), |s| s.0)
            };
            self.start + uniform(rng, 0, (self.end - self.start - span).num_seconds() - 2).max(TimeDelta::zero())
        };
        let acknowledge_by = pk_date(referred_at) + Days::new(within as u64);
        let mut steps: Vec<_> = steps.into_iter().map(|(d, f, t, r, w)| (referred_at + d, f, t, r, w)).collect();
        if outcome == EXPIRED {
            let at = (pk_midnight(acknowledge_by + Days::new(1)) + lag).min(self.end - TimeDelta::seconds(1));
            steps.push((at, REFERRED, EXPIRED, Some("not acknowledged by the deadline"), Who::System));
        }
        Lifecycle { outcome, referred_at, acknowledge_by, clerk, steps }
    }
}

/// A referral to write, found by the first pass: its time, and what draws it again.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Planned {
    referred_at: NaiveDateTime,
    household: u128,
    scheme: u16,
    district: u16,
    pair_seed: u64,
}

/// The (household, scheme) pair's own generator: the same draws whatever order pairs are read in.
fn pair_seed(seed: u64, household_number: &str, scheme: &str) -> u64 {
    let h = household_seed(seed, household_number);
    scheme.bytes().fold(h ^ 0x5bd1_e995, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

struct Writer<'a> {
    rules: &'a RuleSet,
    districts: &'a [String],
    referrals: Vec<NewReferral>,
    events: Vec<ReferralEvent>,
    written: (usize, usize),
}

impl Writer<'_> {
    fn event(&self, s: &Step) -> ReferralEvent {
        ReferralEvent {
            id: uuid::Uuid::from_u128(s.id).to_string(),
            referral_id: uuid::Uuid::from_u128(s.referral).to_string(),
            from_status: s.from.map(|f| STATUSES[usize::from(f)].to_string()),
            to_status: STATUSES[usize::from(s.to)].to_string(),
            reason: s.reason.map(str::to_string),
            actor: self.actor(s.who, s.district, s.scheme),
            occurred_at: s.at,
            household_id: uuid::Uuid::from_u128(s.household).to_string(),
        }
    }

    fn actor(&self, who: Who, district: u16, scheme: u16) -> String {
        match who {
            Who::Clerk(n) => format!("clerk-{}-{n}", self.districts[usize::from(district)]),
            Who::Admin => format!("admin-{}", self.rules.schemes[usize::from(scheme)].id),
            Who::System => "system".to_string(),
        }
    }

    /// Writes what is pending in one transaction: the referrals first, then the events (each
    /// event's referral is in this transaction or an earlier one).
    fn flush(&mut self, conn: &mut DbConnection) {
        let (referrals, events) = (std::mem::take(&mut self.referrals), std::mem::take(&mut self.events));
        db::write_tx(conn, |c| -> QueryResult<()> {
            for part in referrals.chunks(INSERT_ROWS) {
                sahulat::per_backend!(c, |c| diesel::insert_into(referrals::table).values(part).execute(c))?;
            }
            for part in events.chunks(INSERT_ROWS) {
                sahulat::per_backend!(c, |c| diesel::insert_into(referral_events::table).values(part).execute(c))?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("insert: {e}"));
        self.written.0 += referrals.len();
        self.written.1 += events.len();
    }
}

fn seed(conn: &mut DbConnection, rules: &RuleSet, args: &HashMap<String, String>) {
    let share: f64 = args.get("share").and_then(|v| v.parse().ok()).unwrap_or(0.5);
    assert!((0.0..=1.0).contains(&share), "--share must be from 0 to 1");
    let seed: u64 = args.get("seed").and_then(|v| v.parse().ok()).unwrap_or(11);
    let today = date_arg(args, "today").unwrap_or_else(today_in_pakistan);
    let existing: i64 = referrals::table.count().get_result(conn).unwrap_or_else(|e| panic!("count: {e}"));
    if existing > 0 {
        eprintln!("the database already has {existing} referrals: seed refuses to add more (use a fresh copy)");
        std::process::exit(2);
    }
    let decided: i64 = household_decisions::table.count().get_result(conn).unwrap_or_else(|e| panic!("count: {e}"));
    if decided == 0 {
        eprintln!("no stored decisions: run `sahulat screen --all` first");
        std::process::exit(2);
    }
    let end = pk_midnight(today);
    let window = Window { start: end - TimeDelta::days(180), end, today };
    let scheme_index: HashMap<&str, u16> =
        rules.schemes.iter().enumerate().map(|(i, s)| (s.id.as_str(), i as u16)).collect();
    let districts: Vec<String> = sahulat::db::schema::districts::table
        .select(sahulat::db::schema::districts::code)
        .order(sahulat::db::schema::districts::code)
        .load(conn)
        .unwrap_or_else(|e| panic!("districts: {e}"));
    let district_index: HashMap<&str, u16> =
        districts.iter().enumerate().map(|(i, d)| (d.as_str(), i as u16)).collect();

    // First pass: which pairs are referred, and when.
    let started = Instant::now();
    let (mut households_seen, mut eligible_pairs) = (0u64, 0u64);
    let mut planned: Vec<Planned> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = household_decisions::table
            .inner_join(households::table)
            .filter(household_decisions::eligible.ne(""))
            .select((
                households::id,
                households::household_number,
                households::district_code,
                household_decisions::eligible,
            ))
            .order(household_decisions::household_id)
            .limit(READ_CHUNK)
            .into_boxed();
        if let Some(a) = &after {
            q = q.filter(household_decisions::household_id.gt(a.clone()));
        }
        let rows: Vec<(String, String, String, String)> = q.load(conn).unwrap_or_else(|e| panic!("read: {e}"));
        let Some(last) = rows.last().map(|r| r.0.clone()) else { break };
        for (id, number, district, eligible) in &rows {
            households_seen += 1;
            let household = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("household id {id}: {e}")).as_u128();
            let Some(&district) = district_index.get(district.as_str()) else { continue };
            for scheme in eligible.split(',').filter(|x| !x.is_empty()) {
                let Some(&k) = scheme_index.get(scheme) else { continue };
                eligible_pairs += 1;
                let pair_seed = pair_seed(seed, number, scheme);
                let mut rng = Rng::new(pair_seed);
                if rng.chance(share) {
                    let life = window.draw(&mut rng, rules.schemes[usize::from(k)].acknowledge_within_days);
                    planned.push(Planned { referred_at: life.referred_at, household, scheme: k, district, pair_seed });
                }
            }
        }
        after = Some(last);
        if (rows.len() as i64) < READ_CHUNK {
            break;
        }
    }
    planned.sort_unstable();
    println!(
        "{households_seen} households eligible for something, {eligible_pairs} eligible (household, scheme) pairs, \
         {} to refer ({:.1} s)",
        planned.len(),
        started.elapsed().as_secs_f64()
    );

    // Second pass: in time order, as the service would have written them; each event when
    // the ledger reaches its time.
    let mut w = Writer { rules, districts: &districts, referrals: Vec::new(), events: Vec::new(), written: (0, 0) };
    let mut pending: std::collections::BinaryHeap<std::cmp::Reverse<Step>> = std::collections::BinaryHeap::new();
    let mut statuses = [0u64; 6];
    for p in &planned {
        while pending.peek().is_some_and(|s| s.0.at <= p.referred_at) {
            if let Some(std::cmp::Reverse(s)) = pending.pop() {
                let e = w.event(&s);
                w.events.push(e);
            }
        }
        let mut rng = Rng::new(p.pair_seed);
        rng.chance(share);
        let scheme = &rules.schemes[usize::from(p.scheme)];
        let life = window.draw(&mut rng, scheme.acknowledge_within_days);
        let id = id_at(life.referred_at, &mut rng);
        let referral_id = id.as_u128();
        pending.push(std::cmp::Reverse(Step {
            at: life.referred_at,
            id: id_at(life.referred_at, &mut rng).as_u128(),
            referral: referral_id,
            household: p.household,
            district: p.district,
            scheme: p.scheme,
            from: None,
            to: REFERRED,
            reason: None,
            who: Who::Clerk(life.clerk),
        }));
        for &(at, from, to, reason, who) in &life.steps {
            pending.push(std::cmp::Reverse(Step {
                at,
                id: id_at(at, &mut rng).as_u128(),
                referral: referral_id,
                household: p.household,
                district: p.district,
                scheme: p.scheme,
                from: Some(from),
                to,
                reason,
                who,
            }));
        }
        statuses[usize::from(life.outcome)] += 1;
        w.referrals.push(NewReferral {
            id: id.to_string(),
            referral_number: format!("R-{}", id.simple().to_string()[16..].to_uppercase()),
            household_id: uuid::Uuid::from_u128(p.household).to_string(),
            district_code: districts[usize::from(p.district)].clone(),
            scheme_id: scheme.id.clone(),
            status: STATUSES[usize::from(life.outcome)].to_string(),
            eligibility: "eligible".into(),
            override_reason: None,
            rules_version: rules.version.clone(),
            referred_by: w.actor(Who::Clerk(life.clerk), p.district, p.scheme),
            referred_at: life.referred_at,
            acknowledge_by: life.acknowledge_by,
            updated_at: life.steps.last().map_or(life.referred_at, |s| s.0),
            acknowledged_at: life.steps.iter().find(|s| s.2 == ACKNOWLEDGED).map(|s| s.0),
        });
        if w.referrals.len() >= TX_ROWS {
            w.flush(conn);
        }
    }
    while let Some(std::cmp::Reverse(s)) = pending.pop() {
        let e = w.event(&s);
        w.events.push(e);
        if w.events.len() >= 2 * TX_ROWS {
            w.flush(conn);
        }
    }
    w.flush(conn);
    let elapsed = started.elapsed().as_secs_f64();
    let (written, events) = w.written;
    println!(
        "seed {seed}, share {share}, today {today}: wrote {written} referrals and {events} events in {elapsed:.1} s \
         ({:.0} referrals/s)",
        written as f64 / elapsed
    );
    for (k, n) in statuses.iter().enumerate() {
        println!("  {:<12} {n:>9} ({:.1} %)", STATUSES[k], 100.0 * *n as f64 / written.max(1) as f64);
    }
}

/// A line of `/proc/self/status` in MB (`VmHWM`: peak resident set; `VmRSS`: now).
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets the peak resident set to the current one (Linux 4.0 and later); false if refused.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn count(conn: &mut DbConnection, what: &str) -> i64 {
    let n = match what {
        "households" => households::table.count().get_result(conn),
        "members (current)" => members::table.filter(members::status.eq("current")).count().get_result(conn),
        "household_decisions" => household_decisions::table.count().get_result(conn),
        "decision_changes" => decision_changes::table.count().get_result(conn),
        "referrals" => referrals::table.count().get_result(conn),
        _ => referral_events::table.count().get_result(conn),
    };
    n.unwrap_or_else(|e| panic!("count {what}: {e}"))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn run(conn: &mut DbConnection, rules: &RuleSet, args: &HashMap<String, String>) {
    let repeat: usize = args.get("repeat").and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let district = args.get("district").cloned().unwrap_or_else(|| "peshawar".into());
    let as_of = date_arg(args, "as-of").unwrap_or_else(today_in_pakistan);
    let days: i64 = args.get("days").and_then(|v| v.parse().ok()).unwrap_or(30);
    // `--report coverage` (or gaps, funnel) times one report only; `--scope province` (or
    // district) one scope only.
    let only = args.get("report").map(|r| ReportKind::parse(r).unwrap_or_else(|| panic!("--report {r:?}")));
    let scope_arg = args.get("scope").map_or("both", String::as_str);
    for what in
        ["households", "members (current)", "household_decisions", "decision_changes", "referrals", "referral_events"]
    {
        println!("  {what:<20} {:>10}", count(conn, what));
    }
    let resets = reset_peak();
    println!(
        "as of {as_of}, funnel from {}; {repeat} runs each; RSS before the reports {:.1} MB{}",
        as_of - TimeDelta::days(89),
        status_mb("VmRSS:"),
        if resets { "" } else { " (peak RSS cannot be reset here: figures are cumulative)" }
    );
    let scopes = match scope_arg {
        "province" => vec![None],
        "district" => vec![Some(vec![district])],
        _ => vec![None, Some(vec![district])],
    };
    for districts in scopes {
        let scope = districts.as_ref().map_or("province".to_string(), |d| d.join(","));
        for kind in [ReportKind::Coverage, ReportKind::Gaps, ReportKind::Funnel]
            .into_iter()
            .filter(|k| only.is_none_or(|o| o == *k))
        {
            let params = Params {
                as_of,
                from: as_of - TimeDelta::days(89),
                districts: districts.clone(),
                schemes: None,
                scheme: None,
                days,
            };
            let mut times = Vec::new();
            let mut peak: f64 = 0.0;
            let mut last = None;
            for _ in 0..repeat {
                reset_peak();
                let started = Instant::now();
                let report =
                    reports::build(conn, rules, kind, &params).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
                times.push(started.elapsed());
                peak = peak.max(status_mb("VmHWM:"));
                last = Some(report);
            }
            times.sort();
            let Some(report) = last else { continue };
            println!(
                "{scope:<10} {:<8}: best {:.2} s, median {:.2} s; {} tables; registered {} households, {} people; \
                 peak RSS {peak:.1} MB",
                kind.name(),
                secs(times[0]),
                secs(times[times.len() / 2]),
                report.tables.len(),
                report.registered.map_or(0, |r| r.households),
                report.registered.map_or(0, |r| r.people),
            );
        }
    }
}
