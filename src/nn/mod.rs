//! Networks from layers: parameters in flat buffers ([`params`]), the [`Layer`] interface with
//! explicit forward and backward passes, the standard layers and their containers.

pub mod checkpoint;
pub mod container;
pub mod layer;
pub mod layers;
pub mod models;
pub mod params;

pub use container::{Residual, Sequential};
pub use layer::{Layer, Pass, Want};
pub use params::{Fan, Init, ParamBuilder, ParamId, Params};
