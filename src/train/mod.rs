//! Training SR networks: configuration, learning-rate schedules, quality metrics, the loop,
//! SRGAN's additions to it.

pub mod config;
pub mod curves;
pub mod gan;
pub mod reuse;
pub mod run;
pub mod schedule;
pub mod trainer;

pub use config::TrainConfig;
pub use reuse::{train_or_reuse, RunSpec};
pub use run::{train, RunDir, Summary, TrainOptions};
pub use trainer::Trainer;
