//! ddr-engine: train super-resolution networks and look inside them.
//!
//! The pipeline reads top to bottom: `data` turns photos into packs and degraded test sets,
//! `ops` and `nn` compute (on the CPU or a CUDA GPU, see `device`), `train` fits networks,
//! `probe` finds deep degradation representations (PCA, t-SNE, cluster metrics), and `faig`
//! attributes restoration abilities to filters; `restore` trains RL-Restore's toolbox of small
//! restoration CNNs and the agent that chains them.

pub mod cli;
pub mod data;
pub mod device;
pub mod faig;
pub mod infer;
pub mod io;
pub mod labels;
pub mod metrics;
pub mod nn;
pub mod ops;
pub mod probe;
pub mod reduce;
pub mod reproduce;
pub mod restore;
pub mod rng;
pub mod tensor;
pub mod train;

pub use anyhow::{Error, Result};
pub use device::{Device, DeviceSpec};
pub use rng::Rng;
pub use tensor::Tensor;
