//! Whole studies of the papers, end to end: what to train, what to probe, and the report that
//! sets our numbers next to the paper's (`ddr-engine reproduce`).

pub mod ddr;
pub mod plan;
pub mod report;
pub mod runs;
pub mod sft;
mod sft_report;
pub mod sharpness;
