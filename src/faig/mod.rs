//! FAIG: filter attribution by integrated gradients along the straight path in parameter space
//! from a baseline network theta_bar to a target network theta (fine-tuned from it for blur and
//! noise), gamma(alpha) = theta_bar + alpha (theta - theta_bar).
//!
//! For an image x (degraded LR) with ground truth y (HR) and L = sum of squared errors of the
//! network's output, the integrated gradient of every parameter is (theta - theta_bar) times the
//! mean of dL/dgamma over the path; a filter's score is the sum of its absolute values over the
//! filter's kernel slice W[out, in, :, :]. Biases are interpolated but never scored nor masked.
//!
//! Everything works on whole flat parameter buffers: one network is built once and re-pointed at
//! each gamma(alpha); the parameter gradients accumulate over the steps in the network's own
//! gradient buffer (backward adds), so the integral costs nothing beyond its forward and
//! backward passes.

pub mod filters;
pub mod integrate;
pub mod mask;
pub mod modulate;
pub mod rankings;
pub mod score;
pub mod study;

pub use filters::FilterIndex;
pub use integrate::{integrated_gradients, ParamPath, PathRule};
