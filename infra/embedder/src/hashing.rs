//! A deterministic embedder without a model: the signed feature hashing
//! of a text's words and their character trigrams. Texts that share words
//! come out close; meaning is not captured. For tests and for machines
//! that cannot hold a model, and only when configured.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::{EmbedError, Embedder, normalized};

pub struct HashingEmbedder {
    dimension: usize,
    model: String,
}

impl HashingEmbedder {
    /// Most dimensions accepted; a vector longer than any real model's
    /// would only waste space.
    pub const MAX_DIMENSION: usize = 8192;

    pub fn new(dimension: usize) -> Result<Self, EmbedError> {
        if !(1..=Self::MAX_DIMENSION).contains(&dimension) {
            return Err(EmbedError::Model(format!(
                "the hashing embedder's dimension must be 1 to {}, not {dimension}",
                Self::MAX_DIMENSION
            )));
        }
        Ok(Self {
            dimension,
            model: format!("hashing-{dimension}"),
        })
    }

    fn vector(&self, text: &str) -> Vec<f32> {
        // Ordered: features that fall on one index are summed in the same
        // order every time, so the vector is the same to the last bit.
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let word = word.to_lowercase();
            let padded: Vec<char> = format!("<{word}>").chars().collect();
            for gram in padded.windows(3) {
                *counts.entry(gram.iter().collect()).or_default() += 1;
            }
            *counts.entry(word).or_default() += 1;
        }
        let mut vector = vec![0.0f32; self.dimension];
        for (feature, count) in counts {
            let digest = Sha256::digest(feature.as_bytes());
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&digest[..8]);
            let hash = u64::from_le_bytes(bytes);
            // The dimension is at most MAX_DIMENSION: the index fits.
            let index = (hash % self.dimension as u64) as usize;
            let sign = if digest[8] & 1 == 0 { 1.0 } else { -1.0 };
            vector[index] += sign * (1.0 + (count as f32).ln());
        }
        normalized(vector)
    }
}

#[async_trait]
impl Embedder for HashingEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }
}
