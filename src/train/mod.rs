//! Training SR networks: configuration, learning-rate schedules, quality metrics, the loop,
//! SRGAN's additions to it.

pub mod config;
pub mod curves;
pub mod gan;
pub mod schedule;
pub mod trainer;

pub use config::TrainConfig;
pub use trainer::{train, RunDir, Summary, TrainOptions};
