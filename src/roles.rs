//! The roles `studio` runs: all of them in one process (`serve`), or each
//! in its own (`command-api`, `projector`, `query-api`), against the same
//! data directory.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::serve::ListenerExt;
use studio_command_api::CommandService;
use studio_kafka_log::SharedPartitions;
use studio_projections::{LocalProgress, Projection, Projector, ProjectorConfig};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::http::{self, Probes};
use crate::platform::{self, Identity, Store};

/// Everything in one process: command API, projector, document pipeline,
/// query API.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let _log_lock = platform::log_lock(&settings)?;
    let _read_model_lock = platform::lock(&settings, Store::ReadModel)?;
    let _processor_lock = platform::lock(&settings, Store::Processor)?;
    let _graph_lock = graph_lock(&settings)?;
    let _vectors_lock = vectors_lock(&settings)?;
    let shutdown = CancellationToken::new();
    // With the log on Kafka, this process owns partitions too; if that
    // stops (a fatal Kafka error), the whole process stops with it rather
    // than serving commands nobody carries out.
    let command_processor = match settings.kafka_brokers() {
        Some(_) => {
            let (task, lock) = spawn_command_processor(&settings, shutdown.clone()).await?;
            let stop = shutdown.clone();
            let watched = tokio::spawn(async move {
                let ended = task.await;
                stop.cancel();
                ended
            });
            Some((watched, lock))
        }
        None => None,
    };
    let identity = Identity::load(&settings)?;
    let log = platform::log_writer(&settings).await?;
    let blobs = platform::blobs(&settings).await?;
    let personal = platform::personal_data(&settings).await?;
    let read_model =
        platform::read_model_writer(&settings, personal.clone(), blobs.clone()).await?;
    let service = Arc::new(CommandService::new(
        log.clone(),
        personal.clone(),
        platform::source("serve"),
    ));
    platform::bootstrap_admin(&settings, &identity, &service).await?;

    let progress = LocalProgress::new();
    let projector = tokio::spawn(
        Projector::new(
            log.clone(),
            read_model.clone(),
            progress.clone(),
            ProjectorConfig::default(),
        )
        .run(shutdown.clone()),
    );
    let graph = platform::graph(&settings).await?;
    let graph_projector = tokio::spawn(
        Projector::new(
            log.clone(),
            graph.projection.clone(),
            LocalProgress::new(),
            ProjectorConfig::default(),
        )
        .run(shutdown.clone()),
    );
    let vectors = platform::vectors(&settings).await?;
    let vector_projector = vectors.as_ref().map(|vectors| {
        tokio::spawn(
            Projector::new(
                log.clone(),
                platform::vector_projection(&settings, vectors, blobs.clone()),
                LocalProgress::new(),
                vector_projector_config(),
            )
            .run(shutdown.clone()),
        )
    });
    let pipeline = tokio::spawn(
        platform::processor(
            &settings,
            service.clone(),
            blobs.clone(),
            read_model.clone(),
            Arc::new(progress.clone()),
        )
        .await?
        .run(shutdown.clone()),
    );
    let admin = Arc::new(platform::Admin {
        service: service.clone(),
        default_work: settings.forgotten_work(),
    });
    let router = http::router(
        Some(platform::command_api(
            &settings,
            &identity,
            service,
            blobs.clone(),
        )),
        Some(platform::query_api(
            &settings,
            &identity,
            platform::ReadSide {
                log: log.clone(),
                read_model: read_model.clone(),
                graph: graph.store,
                progress: Arc::new(progress),
                blobs,
                personal,
                vectors,
            },
            Some(admin),
        )),
        Probes {
            log,
            read_model: Some(read_model),
        },
    );
    let served = listen(settings.listen, router, shutdown.clone(), "serve").await;
    shutdown.cancel();
    pipeline.await.context("the document pipeline task")?;
    projector
        .await
        .context("the projector task")?
        .context("the projector")?;
    graph_projector
        .await
        .context("the graph projector task")?
        .context("the graph projector")?;
    if let Some(task) = vector_projector {
        task.await
            .context("the vector projector task")?
            .context("the vector projector")?;
    }
    if let Some((task, _lock)) = command_processor {
        task.await
            .context("the command processor task")?
            .context("the command processor task")?
            .context("the command processor")?;
    }
    served
}

type CommandProcessorTask = (
    tokio::task::JoinHandle<Result<(), studio_event_log::LogError>>,
    std::fs::File,
);

/// A command processor in this process, until `shutdown`; holds its lock.
async fn spawn_command_processor(
    settings: &Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<CommandProcessorTask> {
    let lock = platform::lock(settings, Store::CommandProcessor)?;
    let processor = platform::command_processor(settings).await?;
    Ok((tokio::spawn(processor.run(shutdown)), lock))
}

/// A command processor alone: owns some of the Kafka log's partitions and
/// carries out the appends sent to them. Run as many as there are
/// partitions to spread; each needs a data directory of its own.
pub async fn command_processor(settings: Settings) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let (task, _lock) = spawn_command_processor(&settings, shutdown.clone()).await?;
    tracing::info!(data_dir = %settings.data_dir.display(), "studio command-processor is running");
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop_signal().await;
        stop.cancel();
    });
    task.await
        .context("the command processor task")?
        .context("the command processor")
}

/// The write side alone: REST commands onto the event log.
pub async fn command_api(settings: Settings) -> anyhow::Result<()> {
    let _log_lock = platform::log_lock(&settings)?;
    let identity = Identity::load(&settings)?;
    let log = platform::log_writer(&settings).await?;
    let blobs = platform::blobs(&settings).await?;
    let personal = platform::personal_data(&settings).await?;
    let service = Arc::new(CommandService::new(
        log.clone(),
        personal,
        platform::source("command-api"),
    ));
    platform::bootstrap_admin(&settings, &identity, &service).await?;
    let router = http::router(
        Some(platform::command_api(&settings, &identity, service, blobs)),
        None,
        Probes {
            log,
            read_model: None,
        },
    );
    listen(
        settings.listen,
        router,
        CancellationToken::new(),
        "command-api",
    )
    .await
}

/// The embedded graph's writer lock; Neo4j needs none (its projectors
/// share the log's partitions, or there is one).
fn graph_lock(settings: &Settings) -> anyhow::Result<Option<std::fs::File>> {
    match settings.neo4j() {
        Some(_) => Ok(None),
        None => platform::lock(settings, Store::Graph).map(Some),
    }
}

/// The vectors' writer lock, for the data directory's folder. Elsewhere
/// (another folder, an object store), run one vector projector per
/// location.
fn vectors_lock(settings: &Settings) -> anyhow::Result<Option<std::fs::File>> {
    match settings.vectors.as_str() {
        "local" => platform::lock(settings, Store::Vectors).map(Some),
        _ => Ok(None),
    }
}

/// Smaller batches than the other projections': each may embed novels,
/// and a restart redoes the batch it was in.
fn vector_projector_config() -> ProjectorConfig {
    ProjectorConfig {
        batch_size: 1_000,
        ..ProjectorConfig::default()
    }
}

/// The vector projector alone: texts and characters into vectors.
async fn vector_projector(settings: Settings) -> anyhow::Result<()> {
    let _vectors_lock = vectors_lock(&settings)?;
    let Some(vectors) = platform::vectors(&settings).await? else {
        anyhow::bail!(
            "the vectors are off (vectors = \"off\"): set vectors to \"local\" or an s3:// URI"
        );
    };
    let log = platform::log_reader(&settings).await?;
    let blobs = platform::blobs(&settings).await?;
    let projection = platform::vector_projection(&settings, &vectors, blobs);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop_signal().await;
        stop.cancel();
    });
    tracing::info!(vectors = %settings.vectors, model = vectors.embedder.model(), "studio projector (lancedb) is running");
    Projector::new(
        log,
        projection,
        LocalProgress::new(),
        vector_projector_config(),
    )
    .run(shutdown)
    .await
    .context("the vector projector")
}

/// The projector alone: tails the event log into the relational read
/// model, the character graph, or the vectors.
pub async fn projector(settings: Settings, projection: &str) -> anyhow::Result<()> {
    match projection {
        "relational" => {}
        "postgres" if settings.postgres_read_model().is_some() => {}
        "postgres" => anyhow::bail!(
            "the read model is embedded (read_model = \"sqlite\"): set read_model to a postgres:// URL, or run `studio projector relational`"
        ),
        "graph" => return graph_projector(settings).await,
        "neo4j" if settings.neo4j().is_some() => return graph_projector(settings).await,
        "neo4j" => anyhow::bail!(
            "the graph is embedded (graph = \"sqlite\"): set graph to a bolt:// URL, or run `studio projector graph`"
        ),
        "lancedb" => return vector_projector(settings).await,
        other => anyhow::bail!(
            "no projection {other:?}: `relational`, `postgres`, `graph`, `neo4j` or `lancedb`"
        ),
    }
    // Projectors of a PostgreSQL read model fed by Kafka share the log's
    // partitions through a consumer group, from any data directory;
    // otherwise one projector writes the data directory's read model.
    let shared = match (settings.kafka_log(), settings.postgres_read_model()) {
        (Some(kafka), Some(_)) => Some(kafka),
        _ => None,
    };
    let _read_model_lock = match shared {
        Some(_) => None,
        None => Some(platform::lock(&settings, Store::ReadModel)?),
    };
    let log = platform::log_reader(&settings).await?;
    let personal = platform::personal_data(&settings).await?;
    let blobs = platform::blobs(&settings).await?;
    let read_model = platform::read_model_writer(&settings, personal, blobs).await?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop_signal().await;
        stop.cancel();
    });
    tracing::info!(data_dir = %settings.data_dir.display(), "studio projector is running");
    let projector = || {
        Projector::new(
            log.clone(),
            read_model.clone(),
            LocalProgress::new(),
            ProjectorConfig::default(),
        )
    };
    match shared {
        Some(kafka) => {
            let group = format!("{}.projector.{}", kafka.topic_prefix, read_model.name());
            let partitions =
                SharedPartitions::join(&kafka, &group).context("joining the projectors' group")?;
            share_partitions(partitions, projector, shutdown).await
        }
        None => projector().run(shutdown).await.context("the projector"),
    }
}

/// The graph projector alone. On Neo4j fed by Kafka, projectors share the
/// log's partitions through a consumer group, like PostgreSQL's.
async fn graph_projector(settings: Settings) -> anyhow::Result<()> {
    let shared = match (settings.kafka_log(), settings.neo4j()) {
        (Some(kafka), Some(_)) => Some(kafka),
        _ => None,
    };
    let _graph_lock = graph_lock(&settings)?;
    let log = platform::log_reader(&settings).await?;
    let graph = platform::graph(&settings).await?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop_signal().await;
        stop.cancel();
    });
    tracing::info!(graph = %settings.graph, "studio projector (graph) is running");
    let projector = || {
        Projector::new(
            log.clone(),
            graph.projection.clone(),
            LocalProgress::new(),
            ProjectorConfig::default(),
        )
    };
    match shared {
        Some(kafka) => {
            let group = format!(
                "{}.projector.{}",
                kafka.topic_prefix,
                graph.projection.name()
            );
            let partitions =
                SharedPartitions::join(&kafka, &group).context("joining the projectors' group")?;
            share_partitions(partitions, projector, shutdown).await
        }
        None => projector()
            .run(shutdown)
            .await
            .context("the graph projector"),
    }
}

/// Runs a projector over the partitions the group gives this process,
/// restarted over the new set whenever it changes; partitions taken away
/// are released only once it stopped applying them.
async fn share_partitions(
    mut partitions: SharedPartitions,
    projector: impl Fn() -> Projector,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let result = project_shared(&mut partitions, projector, shutdown).await;
    // Leaving the group revokes everything: nothing is being applied any
    // more, so the rebalance need not wait.
    partitions.released(u64::MAX);
    result
}

async fn project_shared(
    partitions: &mut SharedPartitions,
    projector: impl Fn() -> Projector,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let (generation, held) = partitions.current();
        tracing::info!(partitions = ?held, "projecting the partitions this projector holds");
        if held.is_empty() {
            // What it lost, it no longer applies.
            partitions.released(generation);
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                changed = partitions.changed() => changed.context("sharing the log's partitions")?,
            }
            continue;
        }
        let stop = shutdown.child_token();
        let mut task = tokio::spawn(projector().over(held).run(stop.clone()));
        partitions.released(generation);
        let reassigned = tokio::select! {
            _ = shutdown.cancelled() => false,
            changed = partitions.changed() => {
                changed.context("sharing the log's partitions")?;
                true
            }
            ended = &mut task => {
                return ended.context("the projector task")?.context("the projector");
            }
        };
        stop.cancel();
        task.await
            .context("the projector task")?
            .context("the projector")?;
        if !reassigned {
            return Ok(());
        }
    }
}

/// The document pipeline alone. It appends to the log beside the process
/// that serves commands (the embedded log takes several writers) and reads
/// the read model a projector maintains.
pub async fn processor(settings: Settings) -> anyhow::Result<()> {
    let _processor_lock = platform::lock(&settings, Store::Processor)?;
    let log = platform::log_writer(&settings).await?;
    let blobs = platform::blobs(&settings).await?;
    let personal = platform::personal_data(&settings).await?;
    let read_model = platform::read_model_reader(&settings).await?;
    let progress = platform::watched_progress(&settings, read_model.clone()).await?;
    let service = Arc::new(CommandService::new(
        log,
        personal,
        platform::source("processor"),
    ));
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop_signal().await;
        stop.cancel();
    });
    tracing::info!(data_dir = %settings.data_dir.display(), "studio processor is running");
    platform::processor(&settings, service, blobs, read_model, Arc::new(progress))
        .await?
        .run(shutdown)
        .await;
    Ok(())
}

/// The query side alone: GraphQL and REST reads of a read model that a
/// projector process maintains.
pub async fn query_api(settings: Settings) -> anyhow::Result<()> {
    let identity = Identity::load(&settings)?;
    let log = platform::log_reader(&settings).await?;
    let blobs = platform::blobs(&settings).await?;
    let personal = platform::personal_data(&settings).await?;
    let read_model = platform::read_model_reader(&settings).await?;
    let progress = platform::watched_progress(&settings, read_model.clone()).await?;
    let graph = platform::graph(&settings).await?;
    let vectors = platform::vectors(&settings).await?;
    let router = http::router(
        None,
        Some(platform::query_api(
            &settings,
            &identity,
            platform::ReadSide {
                log: log.clone(),
                read_model: read_model.clone(),
                graph: graph.store,
                progress: Arc::new(progress),
                blobs,
                personal,
                vectors,
            },
            None,
        )),
        Probes {
            log,
            read_model: Some(read_model),
        },
    );
    listen(
        settings.listen,
        router,
        CancellationToken::new(),
        "query-api",
    )
    .await
}

/// Serves `router` until a stop signal (or `shutdown`), then cancels
/// `shutdown` so the role's background tasks stop too.
async fn listen(
    address: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
    role: &str,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    let bound = listener.local_addr().unwrap_or(address);
    // Small frames (subscription events, short JSON answers) go out at
    // once instead of waiting for the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tracing::info!(address = %bound, role, "studio is serving");
    let stop = shutdown.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = stop_signal() => tracing::info!("shutting down"),
                _ = stop.cancelled() => {}
            }
            stop.cancel();
        })
        .await
        .context("serving HTTP")
}

async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
