use anyhow::Context;
use axum::serve::ListenerExt;
use studio_projections::{Projector, ProjectorConfig};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::platform::Platform;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    let platform = Platform::open(settings).await?;
    platform.bootstrap_admin().await?;

    let shutdown = CancellationToken::new();
    let projector = tokio::spawn(
        Projector::new(
            platform.log.clone(),
            platform.read_model.clone(),
            platform.progress.clone(),
            ProjectorConfig::default(),
        )
        .run(shutdown.clone()),
    );

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr().unwrap_or(listen);
    // Small frames (subscription events, short JSON answers) go out at
    // once instead of waiting for the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tracing::info!(
        %address,
        data_dir = %platform.settings.data_dir.display(),
        "studio is serving"
    );
    let server_shutdown = shutdown.clone();
    axum::serve(listener, platform.router())
        .with_graceful_shutdown(async move {
            stop_signal().await;
            tracing::info!("shutting down");
            server_shutdown.cancel();
        })
        .await
        .context("serving HTTP")?;
    shutdown.cancel();
    projector
        .await
        .context("the projector task")?
        .context("the projector")?;
    Ok(())
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
