//! `studio import-legacy`: brings the legacy application's SQLite file over
//! (`import`), or compares every legacy row with what the platform holds
//! (`verify`). The rows are read and planned by `studio-legacy-import`;
//! this is the shell that runs the plans and reports.

mod import;
mod report;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::Utc;
use studio_command_api::{CommandMeta, CommandService};
use studio_domain::user::{UserAggregate, UserState};
use studio_domain::{Actor, Role, UserId, rules};
use studio_legacy_import::plan::{CHARACTERS, DOCUMENTS, Planner};
use studio_legacy_import::source::{LegacyDatabase, Table};
use uuid::Uuid;

use crate::config::Settings;
use crate::platform;

#[derive(clap::Args)]
pub struct ImportLegacy {
    /// The legacy application's SQLite file.
    #[arg(default_value = "data/literaryai.db")]
    file: PathBuf,
    /// Compare every legacy row with what the platform holds, print each
    /// difference, exit non-zero on any; appends nothing.
    #[arg(long)]
    verify: bool,
    /// Read and plan every row and print the report; appends nothing.
    #[arg(long, conflicts_with = "verify")]
    dry_run: bool,
    /// The user who will own what is imported (default: the configured
    /// bootstrap admin).
    #[arg(long)]
    owner: Option<String>,
    /// The admin who imports (default: the configured bootstrap admin).
    #[arg(long = "as")]
    admin: Option<String>,
    /// Names the legacy database in the ids the import derives (default:
    /// the file's name). Import the same file under the same name to meet
    /// the same ids.
    #[arg(long)]
    source_name: Option<String>,
    /// Where documents' files may be read from (default: the database's
    /// folder); a `path` leading outside it is refused.
    #[arg(long)]
    files_root: Option<PathBuf>,
    /// Also write the whole report (every refused row, every difference)
    /// as JSON to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Commands in flight at once (a Kafka log answers each after a round
    /// trip, so throughput grows with it up to about 512).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u16).range(1..=4096))]
    concurrency: u16,
}

pub async fn run(settings: Settings, args: ImportLegacy) -> anyhow::Result<ExitCode> {
    let database = LegacyDatabase::open(&args.file)
        .await
        .with_context(|| format!("reading {}", args.file.display()))?;
    let tables = database.tables().await?;
    let root = match &args.files_root {
        Some(root) => root.clone(),
        None => args
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let files_root = std::path::absolute(&root)
        .and_then(|root| root.canonicalize())
        .with_context(|| format!("the documents' folder {}", root.display()))?;
    let legacy = Legacy {
        files_root,
        documents: find(&tables, DOCUMENTS),
        characters: find(&tables, CHARACTERS),
        others: tables
            .iter()
            .filter(|t| {
                !t.name.eq_ignore_ascii_case(DOCUMENTS) && !t.name.eq_ignore_ascii_case(CHARACTERS)
            })
            .cloned()
            .collect(),
        database,
    };
    if legacy.documents.is_none() && legacy.characters.is_none() {
        bail!(
            "{} has neither a characters nor a documents table: is it the legacy application's database?",
            args.file.display()
        );
    }
    let source = match &args.source_name {
        Some(name) => name.clone(),
        None => args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "legacy".into()),
    };
    let _lock = if args.verify || args.dry_run {
        None
    } else {
        platform::log_lock(&settings).context(
            "the embedded event log is in use: stop `studio serve` while importing (or import into a Kafka log, which takes writers beside a running platform)",
        )?
    };
    let people = people(&settings, &args).await?;
    let planner = Planner::new(people.owner, &source, media_type);
    let code = if args.verify {
        verify::run(&settings, &legacy, planner, &people, args.report.as_deref()).await?
    } else {
        let options = import::Options {
            dry_run: args.dry_run,
            concurrency: usize::from(args.concurrency),
            max_file_bytes: settings.limits.upload_bytes,
            blobs: platform::blobs(&settings).await?,
        };
        let report = import::run(&people, &legacy, planner, &options).await?;
        report.print(&args.file, &source);
        if let Some(path) = &args.report {
            report.write(path)?;
        }
        if report.refused() > 0 {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        }
    };
    legacy.database.close().await;
    Ok(code)
}

/// What the legacy file holds.
pub struct Legacy {
    database: LegacyDatabase,
    /// Documents' `path`s resolve here, and may not lead out of it.
    files_root: PathBuf,
    documents: Option<Table>,
    characters: Option<Table>,
    /// Tables the importer does not know: listed, never silently passed over.
    others: Vec<Table>,
}

impl Legacy {
    /// The rows of the tables the importer knows.
    fn rows(&self) -> u64 {
        [&self.documents, &self.characters]
            .into_iter()
            .flatten()
            .map(|t| t.rows)
            .sum()
    }
}

fn find(tables: &[Table], name: &str) -> Option<Table> {
    tables
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(name))
        .cloned()
}

fn media_type(filename: &str) -> Option<&'static str> {
    studio_command_api::http::media_type_for(filename, None)
}

/// Who imports, for whom, through what.
pub struct People {
    pub service: Arc<CommandService>,
    pub admin: UserId,
    pub owner: UserId,
}

impl People {
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.admin,
            role: Role::Admin,
        }
    }

    pub fn meta(&self, command_id: Uuid) -> CommandMeta {
        CommandMeta::new(command_id, self.admin.to_string(), Utc::now())
    }
}

/// The importing admin and the owner, both registered (the configured
/// bootstrap admin is registered first if it is not yet).
async fn people(settings: &Settings, args: &ImportLegacy) -> anyhow::Result<People> {
    let log = platform::log_writer(settings).await?;
    let personal = platform::personal_data(settings).await?;
    let service = Arc::new(CommandService::new(
        log,
        personal,
        platform::source("import-legacy"),
    ));
    let identity = platform::Identity::load(settings)?;
    let configured = settings.auth.bootstrap_admin_email.clone();
    let email = |given: &Option<String>, what: &str| -> anyhow::Result<String> {
        let raw = given
            .clone()
            .or_else(|| configured.clone())
            .with_context(|| {
                format!("name the {what} (--{what} EMAIL), or configure auth.bootstrap_admin_email")
            })?;
        rules::email(&raw).with_context(|| format!("--{what}"))
    };
    let admin_email = email(&args.admin, "as")?;
    let owner_email = email(&args.owner, "owner")?;
    if !args.verify && !args.dry_run {
        platform::bootstrap_admin(settings, &identity, &service).await?;
    }
    let admin = identity.user_ids.user_id(&admin_email);
    let owner = identity.user_ids.user_id(&owner_email);
    match service
        .load::<UserAggregate>(admin.into())
        .await?
        .state
        .state
    {
        UserState::Active(user) if user.role == Role::Admin => {}
        UserState::Active(_) => bail!("{admin_email} is not an admin; only admins import"),
        _ => bail!("no user {admin_email}: register the importing admin first"),
    }
    if !matches!(
        service
            .load::<UserAggregate>(owner.into())
            .await?
            .state
            .state,
        UserState::Active(_)
    ) {
        bail!("no user {owner_email}: register the owner of the imported work first");
    }
    Ok(People {
        service,
        admin,
        owner,
    })
}
