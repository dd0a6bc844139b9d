//! The command line: `serve`, `migrate`, `user …` and `audit verify`.
//!
//! Commands read the same settings as the service. Account changes made here are audited
//! like API changes, with the actor recorded as `cli` (an operator on the host).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::audit::{self, AuditContext, AuditKey};
use crate::auth::Role;
use crate::auth::password::{check_new_password, hash_password};
use crate::auth::service::{self, CreateUser, UserChanges};
use crate::auth::users::{self, Assignments};
use crate::config::Settings;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
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
enum AuditCommand {
    /// Walk the hash chain; print "ok" and the count, or the first broken sequence number.
    Verify,
}

/// Parses the command line, runs the command and maps failures to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Audit(AuditCommand::Verify) => {
            let mut conn = open(settings)?;
            let report = audit::verify_chain(&mut conn, &AuditKey::new(&settings.audit_key))?;
            if report.ok {
                println!("ok: {} events verified", report.count);
            } else {
                println!(
                    "BROKEN at seq {}: {} ({} events verified before it)",
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

fn serve(settings: &Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(settings)?;
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
