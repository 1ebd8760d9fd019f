//! Training SR networks: configuration, learning-rate schedules, quality metrics, the loop.

pub mod config;
pub mod curves;
pub mod metrics;
pub mod schedule;
pub mod trainer;

pub use config::TrainConfig;
pub use trainer::{train, RunDir, Summary, TrainOptions};
