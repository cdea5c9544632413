//! Reading the analysis blob an `analysed` event references.

use studio_analysis::Analysis;
use studio_blob_store::{BlobRef, BlobStore};

use crate::ProjectionError;

/// Largest analysis blob a projection reads (a long novel's is a few MB).
const MAX_ANALYSIS_BYTES: u64 = 512 * 1024 * 1024;

pub(crate) async fn read_analysis(
    blobs: &dyn BlobStore,
    reference: &str,
) -> Result<Analysis, ProjectionError> {
    let corrupt = |e: String| ProjectionError::Corrupt(format!("analysis {reference}: {e}"));
    let blob = BlobRef::parse(reference).map_err(|e| corrupt(e.to_string()))?;
    let bytes = blobs
        .get(&blob, MAX_ANALYSIS_BYTES)
        .await
        .map_err(|e| ProjectionError::Blob(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))
}
