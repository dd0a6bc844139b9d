//! The command line: `serve`, `migrate`, `user …` and `audit verify`.
//!
//! Commands read the same settings as the service. Account changes made here are audited
//! like API changes, with the actor recorded as `cli` (an operator on the host).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::audit::{self, AuditContext, AuditKey};
use crate::auth::Role;
use crate::auth::password::{check_new_password, hash_password};
use crate::auth::service::{self, CreateUser, UserChanges};
use crate::auth::users::{self, Assignments};
use crate::config::Settings;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::registry::demo::Generator;
use crate::registry::districts;
use crate::registry::import::{self, Format, ImportContext};
use crate::registry::repo::Scope;
use crate::registry::warnings::today_in_pakistan;
use crate::startup::{self, Application};
use crate::telemetry;

/// sahulat — single-window beneficiary registry and eligibility service.
#[derive(Debug, Parser)]
#[command(name = "sahulat", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (applies pending migrations first unless told not to).
    Serve {
        /// Do not apply migrations at start-up (several instances on one PostgreSQL).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Import data from files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Re-screen the registry against the rules in force: writes only decisions that changed,
    /// resumes an interrupted run, ends with a summary per scheme.
    Screen {
        /// Every household (required: the command never screens by accident).
        #[arg(long)]
        all: bool,
        /// Only this district.
        #[arg(long)]
        district: Option<String>,
        /// Evaluation date (default: today in Pakistan).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Households per transaction.
        #[arg(long, default_value_t = 1000)]
        chunk: i64,
    },
    /// Check and test the scheme rule files (no database or configuration needed).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Print a monitoring report (counts only, small cells suppressed), as the API serves it:
    /// `coverage`, `gaps` or `funnel`. Audited as an export by `cli`.
    Report {
        /// `coverage`, `gaps` or `funnel`.
        report: String,
        /// Only this district.
        #[arg(long)]
        district: Option<String>,
        /// The date described (coverage, gaps) or the last day of the range (funnel); default today.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Funnel: first day of the range (default: 89 days before --as-of).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Coverage and funnel: break down one scheme.
        #[arg(long)]
        scheme: Option<String>,
        /// Gaps: days after which an eligible household not referred counts.
        #[arg(long, default_value_t = 30)]
        days: i64,
        /// `json` (default) or `csv`.
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// Generate realistic synthetic households (into the database, or to a JSON Lines file).
    DemoData {
        /// How many households.
        #[arg(long)]
        households: u64,
        /// Seed: the same seed gives the same households.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write JSON Lines here instead of storing them.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Copy an SQLite database online into FILE (consistent while the service writes; never
    /// overwrites; checked before it gets its name). PostgreSQL: use pg_dump or pgBackRest.
    Backup {
        /// The new file (must not exist).
        file: std::path::PathBuf,
    },
    /// Probe a running service (the container's HEALTHCHECK): exit 0 when it answers 200.
    Healthcheck {
        /// The URL to request (default: `/readyz` at `SAHULAT_BIND`, a wildcard bind on loopback).
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import households from CSV (one row per member, grouped by household_key) or JSON
    /// Lines (one household per line). Prints one JSON report line per household; exits 3
    /// if any household was rejected.
    Households {
        /// The file.
        file: std::path::PathBuf,
        /// csv or jsonl (default: from the file name).
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from standard input (first line).
    Add {
        /// Login name (3–64 of a-z 0-9 . _ -).
        #[arg(long)]
        username: String,
        /// clerk, scheme_admin, auditor or admin.
        #[arg(long)]
        role: Role,
        /// District code (repeat for several).
        #[arg(long = "district")]
        districts: Vec<String>,
        /// Scheme id (repeat for several).
        #[arg(long = "scheme")]
        schemes: Vec<String>,
    },
    /// List accounts.
    List,
    /// Disable an account; its tokens stop working at once.
    Disable {
        /// Login name.
        #[arg(long)]
        username: String,
    },
    /// Re-enable a disabled account.
    Enable {
        /// Login name.
        #[arg(long)]
        username: String,
    },
    /// Set an account's password from standard input; older tokens stop working.
    SetPassword {
        /// Login name.
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Load and type-check every rule file; print each mistake with file, line and column.
    Check {
        /// The rules directory (default: `SAHULAT_RULES_DIR`, else `./rules`).
        dir: Option<std::path::PathBuf>,
    },
    /// Run the example households written in the rule files and report each one.
    Test {
        /// The rules directory (default: `SAHULAT_RULES_DIR`, else `./rules`).
        dir: Option<std::path::PathBuf>,
    },
    /// Write the rules in force in the database into DIR, byte for byte as approved.
    Export {
        /// Where to write the files (created if missing).
        dir: std::path::PathBuf,
    },
    /// The impact of the files in DIR that differ from the rules in force, on every
    /// registered household (or one district's), printed as JSON; nothing is stored.
    Simulate {
        /// A rules directory (e.g. an export, edited).
        dir: std::path::PathBuf,
        /// The date both rule sets are evaluated on (default today, Pakistan time).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// One district.
        #[arg(long)]
        district: Option<String>,
        /// Per-scheme counts only (no breakdowns, samples or missing fields).
        #[arg(long)]
        counts_only: bool,
    },
    /// Propose the files in DIR that differ from the rules in force, as a scheme
    /// administrator or admin; another person approves it (in the console or the API).
    Propose {
        /// A rules directory (e.g. an export, edited).
        dir: std::path::PathBuf,
        /// What changes and why.
        #[arg(long)]
        summary: String,
        /// The day it takes effect, YYYY-MM-DD.
        #[arg(long)]
        effective: String,
        /// The proposing user's login name.
        #[arg(long)]
        author: String,
        /// A scheme to retire (repeatable).
        #[arg(long)]
        retire: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; print "ok" and the count, or the first broken sequence number.
    Verify,
}

/// Parses the command line, runs the command and maps failures to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Rules(cmd @ (RulesCommand::Check { .. } | RulesCommand::Test { .. })) = &cli.command {
        return rules(cmd);
    }
    if let Command::Healthcheck { url } = &cli.command {
        return crate::healthcheck::command(url.as_deref());
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(message) => {
            eprintln!("sahulat: configuration error: {message}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format, &settings.log_filter);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    match run(cli.command, &settings) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sahulat: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, settings: &Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { no_migrate } => {
            let mut settings = settings.clone();
            settings.migrate_on_start &= !no_migrate;
            serve(&settings)?;
        }
        Command::Migrate => {
            let applied = startup::migrate(&settings.database_url)?;
            println!("applied {} migration(s) on {}", applied.len(), settings.database_url.backend());
        }
        Command::User(cmd) => user(cmd, settings)?,
        Command::Rules(RulesCommand::Export { dir }) => {
            let mut conn = open(settings)?;
            crate::governance::offline::in_force(&mut conn, settings)?;
            let n = crate::governance::offline::export(&mut conn, &dir)?;
            println!("{n} rule files in force written to {}", dir.display());
        }
        Command::Rules(RulesCommand::Simulate { dir, as_of, district, counts_only }) => {
            startup::migrate(&settings.database_url)?;
            let report = crate::governance::offline::simulate(settings, &dir, as_of, district.as_deref(), counts_only)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Rules(RulesCommand::Propose { dir, summary, effective, author, retire }) => {
            startup::migrate(&settings.database_url)?;
            let id = crate::governance::offline::propose(settings, &dir, (&summary, &effective), &author, &retire)?;
            println!("proposal {id} made; it takes effect once another administrator approves it");
        }
        Command::Rules(cmd) => return Ok(rules(&cmd)),
        Command::Healthcheck { url } => return Ok(crate::healthcheck::command(url.as_deref())),
        Command::Screen { all, district, as_of, chunk } => {
            if !all {
                anyhow::bail!("give --all to re-screen the registry (with --district D to limit it)");
            }
            return rescreen(settings, district.as_deref(), as_of, chunk);
        }
        Command::Import(ImportCommand::Households { file, format }) => {
            return import_households(settings, &file, format.as_deref());
        }
        Command::Report { report, district, as_of, from, scheme, days, format } => {
            let params = (district, as_of, from, scheme, days);
            return print_report(settings, &report, params, &format);
        }
        Command::DemoData { households, seed, output } => demo_data(settings, households, seed, output.as_deref())?,
        Command::Backup { file } => {
            let report = crate::backup::run(&settings.database_url, &AuditKey::new(&settings.audit_key), &file)?;
            println!(
                "backup written to {}: {:.1} MB in {:.2} s (integrity ok, {} migrations)",
                report.file.display(),
                report.bytes as f64 / 1_000_000.0,
                report.elapsed.as_secs_f64(),
                report.migrations
            );
        }
        Command::Audit(AuditCommand::Verify) => {
            let mut conn = open(settings)?;
            let report = audit::verify_chain(&mut conn, &AuditKey::new(&settings.audit_key))?;
            if report.ok {
                println!("ok: {} events in {} chain(s) verified", report.count, report.chains);
            } else {
                println!(
                    "BROKEN in chain {} at seq {}: {} ({} events verified before it)",
                    report.broken_chain.as_deref().unwrap_or("?"),
                    report.first_broken_seq.unwrap_or_default(),
                    report.reason.as_deref().unwrap_or("unknown"),
                    report.count
                );
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn rules(cmd: &RulesCommand) -> ExitCode {
    let (RulesCommand::Check { dir } | RulesCommand::Test { dir }) = cmd else {
        eprintln!(
            "sahulat: this rules command needs the database (run it through `sahulat rules …` with the settings)"
        );
        return ExitCode::FAILURE;
    };
    let dir = dir.clone().unwrap_or_else(|| {
        std::env::var_os("SAHULAT_RULES_DIR").map_or_else(|| "./rules".into(), std::path::PathBuf::from)
    });
    let started = std::time::Instant::now();
    let set = match crate::rules::load_dir(&dir) {
        Ok(set) => set,
        Err(diagnostics) => {
            for d in &diagnostics {
                println!("{d}");
            }
            println!("{} error(s) in {}", diagnostics.len(), dir.display());
            return ExitCode::FAILURE;
        }
    };
    let loaded = started.elapsed();
    if let RulesCommand::Check { .. } = cmd {
        println!(
            "ok: {} schemes, {} criteria, {} examples checked in {:.1} ms; rules version {}",
            set.schemes.len(),
            set.criterion_count(),
            set.schemes.iter().map(|s| s.examples.len()).sum::<usize>(),
            loaded.as_secs_f64() * 1000.0,
            set.version
        );
        return ExitCode::SUCCESS;
    }
    let reports = crate::rules::examples::run(&set);
    let failed = reports.iter().filter(|r| !r.passed()).count();
    for r in &reports {
        if r.passed() {
            println!("pass  {}: {}", r.scheme, r.name);
        } else {
            println!("FAIL  {}: {} ({})", r.scheme, r.name, r.location);
            for p in &r.problems {
                println!("        {p}");
            }
        }
    }
    println!("{} examples: {} passed, {failed} failed", reports.len(), reports.len() - failed);
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn serve(settings: &Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(settings)?;
        app.reload_rules_on_hangup();
        tracing::info!(
            bind = %settings.bind,
            port = app.port(),
            database = settings.database_url.backend(),
            "sahulat is serving"
        );
        app.run_until_stopped().await.context("server stopped with an error")
    })
}

/// Opens a connection for a CLI command, migrating first so a fresh database works.
fn open(settings: &Settings) -> anyhow::Result<DbConnection> {
    startup::migrate(&settings.database_url)?;
    db::connect(&settings.database_url)
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as you type; pipe it in to avoid that): ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn describe(error: ApiError) -> anyhow::Error {
    match error {
        ApiError::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
        ),
        ApiError::Internal(e) => e,
        other => anyhow::anyhow!("{}", other.problem().detail),
    }
}

fn find(conn: &mut DbConnection, username: &str) -> anyhow::Result<users::UserRow> {
    users::find_by_username(conn, username)?.with_context(|| format!("no user named {username:?}"))
}

fn user(cmd: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    let key = AuditKey::new(&settings.audit_key);
    let ctx = AuditContext::cli();
    match cmd {
        UserCommand::Add { username, role, districts, schemes } => {
            let password = read_password()?;
            check_new_password(&password, &username).map_err(anyhow::Error::msg)?;
            let hash = hash_password(&password)?;
            let mut conn = open(settings)?;
            let request = CreateUser {
                username: &username,
                role,
                password: &password,
                password_hash: &hash,
                assignments: Assignments { districts, schemes },
            };
            let view = db::write_tx(&mut conn, |c| service::create_user(c, &key, &ctx, request)).map_err(describe)?;
            println!("created {} ({}) id {}", view.username, view.role, view.id);
        }
        UserCommand::List => {
            let mut conn = open(settings)?;
            let mut after: Option<String> = None;
            println!("{:<24} {:<13} {:<8} assignments", "username", "role", "active");
            loop {
                let page = service::list_users(&mut conn, after.as_deref(), 500).map_err(describe)?;
                for u in &page {
                    let assigned = u.districts.iter().chain(&u.schemes).cloned().collect::<Vec<_>>().join(",");
                    println!("{:<24} {:<13} {:<8} {}", u.username, u.role, u.active, assigned);
                }
                match page.last() {
                    Some(last) if page.len() == 500 => after = Some(last.username.clone()),
                    _ => break,
                }
            }
        }
        UserCommand::Disable { username } => set_active(settings, &key, &ctx, &username, false)?,
        UserCommand::Enable { username } => set_active(settings, &key, &ctx, &username, true)?,
        UserCommand::SetPassword { username } => {
            let password = read_password()?;
            check_new_password(&password, &username).map_err(anyhow::Error::msg)?;
            let hash = hash_password(&password)?;
            let mut conn = open(settings)?;
            let row = find(&mut conn, &username)?;
            db::write_tx(&mut conn, |c| service::set_password(c, &key, &ctx, &row.id, &hash, "user_reset_password"))
                .map_err(describe)?;
            println!("password set for {username}; older tokens no longer work");
        }
    }
    Ok(())
}

fn set_active(
    settings: &Settings,
    key: &AuditKey,
    ctx: &AuditContext,
    username: &str,
    active: bool,
) -> anyhow::Result<()> {
    let mut conn = open(settings)?;
    let row = find(&mut conn, username)?;
    let changes = UserChanges { active: Some(active), ..UserChanges::default() };
    db::write_tx(&mut conn, |c| service::update_user(c, key, ctx, &row.id, row.version, changes)).map_err(describe)?;
    println!("{username} is now {}", if active { "enabled" } else { "disabled" });
    Ok(())
}

/// `sahulat report`: district, as-of, from, scheme and days as given on the command line.
type ReportOptions = (Option<String>, Option<chrono::NaiveDate>, Option<chrono::NaiveDate>, Option<String>, i64);

fn print_report(settings: &Settings, report: &str, options: ReportOptions, format: &str) -> anyhow::Result<ExitCode> {
    let (district, as_of, from, scheme, days) = options;
    use crate::reports::{self, Params, ReportKind};
    let Some(kind) = ReportKind::parse(report) else {
        anyhow::bail!("no report {report:?}: give coverage, gaps or funnel");
    };
    if !matches!(format, "json" | "csv") {
        anyhow::bail!("--format must be json or csv");
    }
    if !(1..=3650).contains(&days) {
        anyhow::bail!("--days must be from 1 to 3650");
    }
    let mut conn = open(settings)?;
    let set = crate::governance::offline::in_force(&mut conn, settings)?;
    if let Some(s) = &scheme
        && set.scheme(s).is_none()
    {
        anyhow::bail!("--scheme {s:?} is not a scheme in the rules");
    }
    if let Some(d) = &district
        && districts::find(&mut conn, d)?.is_none()
    {
        anyhow::bail!("--district {d:?} is not a district code");
    }
    let as_of = as_of.unwrap_or_else(today_in_pakistan);
    let from = from.unwrap_or(as_of - chrono::TimeDelta::days(89));
    if from > as_of {
        anyhow::bail!("--from must not be after --as-of");
    }
    let params = Params { as_of, from, districts: district.map(|d| vec![d]), schemes: None, scheme, days };
    let (key, ctx) = (AuditKey::new(&settings.audit_key), AuditContext::cli());
    let event = audit::Event::new("report_export").details(serde_json::json!({
        "report": kind.name(), "as_of": as_of, "from": (kind == ReportKind::Funnel).then_some(from),
        "districts": params.districts, "scheme": params.scheme, "format": format,
    }));
    db::write_tx(&mut conn, |c| audit::record(c, &key, &ctx, &event).map_err(anyhow::Error::from))?;
    let built = reports::build(&mut conn, &set, kind, &params)?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if format == "csv" {
        out.write_all(&reports::to_csv(&built))?;
    } else {
        serde_json::to_writer_pretty(&mut out, &built)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn rescreen(
    settings: &Settings,
    district: Option<&str>,
    as_of: Option<chrono::NaiveDate>,
    chunk: i64,
) -> anyhow::Result<ExitCode> {
    use crate::screening::rescreen;
    if !(1..=100_000).contains(&chunk) {
        anyhow::bail!("--chunk must be between 1 and 100000");
    }
    let as_of = as_of.unwrap_or_else(today_in_pakistan);
    let mut conn = open(settings)?;
    // The rules in force, as the service holds them (one source of truth for every instance).
    let set = crate::governance::offline::in_force(&mut conn, settings)?;
    db::tune_for_bulk(&mut conn)?;
    if let Some(d) = district
        && districts::find(&mut conn, d)?.is_none()
    {
        anyhow::bail!("--district {d:?} is not a district code");
    }
    let total = rescreen::count(&mut conn, district)?;
    let bar = progress(u64::try_from(total).unwrap_or(0), "households");
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut reader = open(settings)?;
        db::tune_for_bulk(&mut reader)?;
        readers.push(Box::new(reader));
    }
    let report = rescreen::run(&mut conn, readers, &set, as_of, district, chunk, |n| bar.inc(n))?;
    bar.finish_and_clear();
    println!(
        "{} run {}: {} households decided at {as_of} with rules {}, {} decision rows written",
        if report.resumed { "resumed" } else { "finished" },
        report.id,
        report.processed,
        &set.version[..12],
        report.written
    );
    println!("{:<40} {:>15} {:>19} {:>19}", "scheme", "newly eligible", "no longer eligible", "newly undetermined");
    for (scheme, s) in &report.summary {
        println!("{scheme:<40} {:>15} {:>19} {:>19}", s.newly_eligible, s.no_longer_eligible, s.newly_undetermined);
    }
    Ok(ExitCode::SUCCESS)
}

fn progress(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn import_households(settings: &Settings, file: &Path, format: Option<&str>) -> anyhow::Result<ExitCode> {
    let format = match format {
        Some("csv") => Format::Csv,
        Some("jsonl") => Format::JsonLines,
        Some(other) => anyhow::bail!("--format must be csv or jsonl (got {other:?})"),
        None => Format::from_name(&file.to_string_lossy())
            .context("cannot tell the format from the file name; pass --format csv or --format jsonl")?,
    };
    let handle = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let bar = progress(handle.metadata().map(|m| m.len()).unwrap_or(0), "bytes");
    let input = std::io::BufReader::new(bar.wrap_read(handle));
    let mut conn = open(settings)?;
    db::tune_for_bulk(&mut conn)?;
    let (key, ctx) = (AuditKey::new(&settings.audit_key), AuditContext::cli());
    let ic = ImportContext { key: &key, ctx: &ctx, scope: &Scope::All, batch: import::CLI_BATCH };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = import::import(&mut conn, &ic, format, input, |line| {
        let _ = serde_json::to_writer(&mut out, line).map(|_| out.write_all(b"\n"));
    })
    .map_err(describe)?;
    out.flush()?;
    bar.finish_and_clear();
    eprintln!("accepted {}, rejected {}, duplicate {}", summary.accepted, summary.rejected, summary.duplicate);
    Ok(if summary.rejected > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

fn demo_data(settings: &Settings, households: u64, seed: u64, output: Option<&Path>) -> anyhow::Result<()> {
    let mut conn = open(settings)?;
    db::tune_for_bulk(&mut conn)?;
    let known: Vec<String> = districts::list(&mut conn)?.into_iter().filter(|d| d.active).map(|d| d.code).collect();
    let mut generator = Generator::new(seed, today_in_pakistan(), &known);
    let bar = progress(households, "households");
    let values = (0..households).map(|_| {
        bar.inc(1);
        generator.household()
    });
    let started = std::time::Instant::now();
    if let Some(path) = output {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        for value in values {
            serde_json::to_writer(&mut out, &value)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        bar.finish_and_clear();
        eprintln!("wrote {households} households to {} in {:.1} s", path.display(), started.elapsed().as_secs_f64());
        return Ok(());
    }
    let (key, ctx) = (AuditKey::new(&settings.audit_key), AuditContext::cli());
    let ic = ImportContext { key: &key, ctx: &ctx, scope: &Scope::All, batch: import::CLI_BATCH };
    let summary = import::import_values(&mut conn, &ic, values, |_| {}).map_err(describe)?;
    bar.finish_and_clear();
    eprintln!(
        "stored {} households ({} rejected, {} duplicate) in {:.1} s",
        summary.accepted,
        summary.rejected,
        summary.duplicate,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
