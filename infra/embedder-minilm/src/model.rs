//! The model itself, synchronous.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Deserialize;
use studio_embedder::{EmbedError, normalized};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// `sentence_bert_config.json`.
#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: usize,
}

/// `1_Pooling/config.json`: only mean pooling is what this model uses.
#[derive(Deserialize)]
struct PoolingConfig {
    word_embedding_dimension: usize,
    pooling_mode_mean_tokens: bool,
}

pub(crate) struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    dimension: usize,
    device: Device,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, EmbedError> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| {
        EmbedError::Model(format!(
            "{}: {e} (fetch the model with `bash infra/fetch-model.sh {}`)",
            path.display(),
            dir.display()
        ))
    })
}

fn json<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> Result<T, EmbedError> {
    serde_json::from_slice(&read(dir, name)?)
        .map_err(|e| EmbedError::Model(format!("{}: {e}", dir.join(name).display())))
}

fn failed(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Failed(e.to_string())
}

impl Model {
    pub(crate) fn load(dir: &Path) -> Result<Self, EmbedError> {
        let config: Config = json(dir, "config.json")?;
        let sentence: SentenceConfig = json(dir, "sentence_bert_config.json")?;
        let pooling: PoolingConfig = json(dir, "1_Pooling/config.json")?;
        if !pooling.pooling_mode_mean_tokens {
            return Err(EmbedError::Model(format!(
                "{}: only mean pooling is supported",
                dir.display()
            )));
        }
        let model_error = |e: &dyn std::fmt::Display| {
            EmbedError::Model(format!("{}: {e}", dir.join("tokenizer.json").display()))
        };
        let mut tokenizer =
            Tokenizer::from_bytes(read(dir, "tokenizer.json")?).map_err(|e| model_error(&e))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: sentence.max_seq_length,
                ..TruncationParams::default()
            }))
            .map_err(|e| model_error(&e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        let device = Device::Cpu;
        let weights = VarBuilder::from_buffered_safetensors(
            read(dir, "model.safetensors")?,
            DType::F32,
            &device,
        )
        .map_err(|e| {
            EmbedError::Model(format!("{}: {e}", dir.join("model.safetensors").display()))
        })?;
        let bert = BertModel::load(weights, &config)
            .map_err(|e| EmbedError::Model(format!("{}: {e}", dir.display())))?;
        Ok(Self {
            bert,
            tokenizer,
            dimension: pooling.word_embedding_dimension,
            device,
        })
    }

    pub(crate) fn dimension(&self) -> usize {
        self.dimension
    }

    /// Every text's vector, in the order given, `batch` texts at a time
    /// (shortest first, so a batch pads little).
    pub(crate) fn embed(
        &self,
        texts: &[String],
        batch: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(batch.max(1)) {
            let inputs: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            for (&i, vector) in chunk.iter().zip(self.batch(&inputs)?) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    fn batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(failed)?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> Vec<u32>| -> Result<Tensor, EmbedError> {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(f(e).as_slice(), &self.device))
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed)?;
            Tensor::stack(&rows, 0).map_err(failed)
        };
        let ids = rows(&|e| e.get_ids().to_vec())?;
        let mask = rows(&|e| e.get_attention_mask().to_vec())?;
        let types = ids.zeros_like().map_err(failed)?;
        let hidden = self
            .bert
            .forward(&ids, &types, Some(&mask))
            .map_err(failed)?;
        // Mean over the real tokens: padding is masked out of the sum and
        // the count.
        let mask = mask
            .to_dtype(DType::F32)
            .map_err(failed)?
            .unsqueeze(2)
            .map_err(failed)?;
        let summed = hidden
            .broadcast_mul(&mask)
            .and_then(|t| t.sum(1))
            .map_err(failed)?;
        let counts = mask
            .sum(1)
            .and_then(|c| c.clamp(1e-9f32, f32::MAX))
            .map_err(failed)?;
        let mean = summed.broadcast_div(&counts).map_err(failed)?;
        let rows: Vec<Vec<f32>> = mean.to_vec2().map_err(failed)?;
        Ok(rows.into_iter().map(normalized).collect())
    }
}
