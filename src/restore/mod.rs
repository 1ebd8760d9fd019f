//! RL-Restore (Yu et al., "Crafting a Toolchain for Image Restoration by Deep Reinforcement
//! Learning", CVPR 2018): a toolbox of small restoration CNNs and an agent that chains them.
//!
//! - [`levels`]: the mixed degradations (blur, then noise, then JPEG) at mild, moderate and
//!   severe strength, and patches made from photos;
//! - [`toolbox`]: the twelve tools, their training configurations (trained by `crate::train`)
//!   and the loaded toolbox;
//! - [`policy`]: the agent's weights on disk and its greedy toolchains on patches;
//! - [`dqn`]: training the agent by deep Q-learning;
//! - [`eval`]: the comparison with single tools, fixed and random chains and the oracle;
//! - [`run`]: restoring whole images.

pub mod dqn;
pub mod eval;
pub mod levels;
pub mod policy;
pub mod run;
pub mod toolbox;
