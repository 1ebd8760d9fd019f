//! RL-Restore's agent (Yu et al., CVPR 2018): from the current 63x63 image and the tool applied
//! last, the Q-values of the 12 tools and of stopping.
//!
//! Four stride-2 convolutions with "same" padding and ReLU (9x9 3 -> 32, then three 5x5 to 24;
//! 63 -> 32 -> 16 -> 8 -> 4), a fully connected layer 384 -> 32 with ReLU, an LSTM cell of 50
//! units whose input is those 32 features next to the one-hot of the last action (12 zeros before
//! the first step), and a linear layer 50 -> 13. The LSTM's gate pre-activations are
//! `W_x f + W_a a + W_h h + b` (PyTorch's gate order i, f, g, o), kept as three products so that
//! no concatenation is needed; its state (h, c) is carried from step to step by the caller.
//!
//! Names: `conv1`..`conv4`, `fc`, `lstm.input` (with the bias), `lstm.action`, `lstm.hidden`, `q`.
//! Init: Kaiming normal (fan_in, gain sqrt 2) for the ReLU layers, LeCun normal (gain 1) for the
//! LSTM and Q layers, biases zero.

use crate::device::Device;
use crate::nn::layers::{Act, Activation, Conv2d, Linear};
use crate::nn::{Fan, Init, Layer, ParamBuilder, Params, Pass, Want};
use crate::ops::{self, conv2d::Conv2dSpec};
use crate::tensor::Tensor;
use crate::Result;
use anyhow::{anyhow, ensure};

/// The side of the square patch the agent looks at.
pub const PATCH: usize = 63;
/// Tools in the toolbox; action `TOOLS` is "stop".
pub const TOOLS: usize = 12;
pub const ACTIONS: usize = TOOLS + 1;
/// LSTM units.
pub const HIDDEN: usize = 50;
const FEATURES: usize = 32;
const FLAT: usize = 24 * 4 * 4;

/// The recurrent state of a batch of episodes: `h` and `c`, each `[batch, HIDDEN]`.
#[derive(Clone, Debug)]
pub struct LstmState {
    pub h: Tensor,
    pub c: Tensor,
}

impl LstmState {
    pub fn zeros(batch: usize, dev: &Device) -> Result<LstmState> {
        Ok(LstmState { h: Tensor::zeros(&[batch, HIDDEN], dev)?, c: Tensor::zeros(&[batch, HIDDEN], dev)? })
    }
}

/// What the backward pass needs from the LSTM step.
struct LstmSaved {
    gates: Tensor,
    c_prev: Tensor,
    c: Tensor,
}

pub struct RestoreAgent {
    convs: Vec<(Conv2d, Act)>,
    fc: Linear,
    fc_act: Act,
    gate_input: Linear,
    gate_action: Linear,
    gate_hidden: Linear,
    q: Linear,
    saved: Option<LstmSaved>,
}

impl RestoreAgent {
    pub fn new(pb: &mut ParamBuilder) -> Self {
        let relu_init = Init::kaiming(1.0);
        let lecun = Init::KaimingNormal { fan: Fan::In, gain: 1.0, scale: 1.0 };
        let geometry = [(3, 32, 9), (32, 24, 5), (24, 24, 5), (24, 24, 5)];
        let convs = geometry
            .iter()
            .enumerate()
            .map(|(i, &(c_in, c_out, k))| {
                let spec = Conv2dSpec { c_in, c_out, k, stride: 2, pad: k / 2 };
                let conv = pb.scope(format!("conv{}", i + 1), |pb| Conv2d::new(pb, spec, true, relu_init));
                (conv, Act::new(Activation::Relu))
            })
            .collect();
        let linear = |pb: &mut ParamBuilder, name: &str, c_in, c_out, bias, init| {
            pb.scope(name, |pb| Linear::new(pb, c_in, c_out, bias, init))
        };
        RestoreAgent {
            convs,
            fc: linear(pb, "fc", FLAT, FEATURES, true, relu_init),
            fc_act: Act::new(Activation::Relu),
            gate_input: linear(pb, "lstm.input", FEATURES, 4 * HIDDEN, true, lecun),
            gate_action: linear(pb, "lstm.action", TOOLS, 4 * HIDDEN, false, lecun),
            gate_hidden: linear(pb, "lstm.hidden", HIDDEN, 4 * HIDDEN, false, lecun),
            q: linear(pb, "q", HIDDEN, ACTIONS, true, lecun),
            saved: None,
        }
    }

    /// The agent and its freshly initialised parameters on `dev`.
    pub fn build(dev: &Device, seed: u64) -> Result<(RestoreAgent, Params)> {
        let mut pb = ParamBuilder::new();
        let agent = RestoreAgent::new(&mut pb);
        Ok((agent, pb.build(dev, seed)?))
    }

    /// Q-values `[batch, ACTIONS]` and the next recurrent state, for images `[batch, 3, 63, 63]`,
    /// the one-hot last actions `[batch, TOOLS]` and the current state.
    pub fn forward(
        &mut self,
        p: &mut Params,
        images: &Tensor,
        last_action: &Tensor,
        state: &LstmState,
        pass: Pass,
    ) -> Result<(Tensor, LstmState)> {
        let (n, c, h, w) = images.dims4()?;
        ensure!(
            c == 3 && h == PATCH && w == PATCH,
            "the agent looks at 3x{PATCH}x{PATCH} patches, not {c}x{h}x{w}"
        );
        ensure!(
            last_action.shape() == [n, TOOLS]
                && state.h.shape() == [n, HIDDEN]
                && state.c.shape() == [n, HIDDEN],
            "agent: last actions must be [{n}, {TOOLS}] and the state [{n}, {HIDDEN}]"
        );
        let mut x = images.clone();
        for (conv, act) in &mut self.convs {
            x = conv.forward(p, &x, pass)?;
            x = act.forward(p, &x, pass)?;
        }
        let flat = x.reshape(&[n, FLAT])?;
        let f = self.fc.forward(p, &flat, pass)?;
        let f = self.fc_act.forward(p, &f, pass)?;
        let from_action = self.gate_action.forward(p, last_action, pass)?;
        let from_hidden = self.gate_hidden.forward(p, &state.h, pass)?;
        let mut gates = self.gate_input.forward(p, &f, pass)?;
        gates = ops::elementwise::add(&gates, &from_action)?;
        gates = ops::elementwise::add(&gates, &from_hidden)?;
        let (h_next, c_next) = ops::lstm::lstm_cell_fwd(&gates, &state.c)?;
        let q = self.q.forward(p, &h_next, pass)?;
        self.saved = pass.record.then(|| LstmSaved { gates, c_prev: state.c.clone(), c: c_next.clone() });
        Ok((q, LstmState { h: h_next, c: c_next }))
    }

    /// Adds the parameter gradients of dL/dQ into `p.grads`. The recurrent state is an input
    /// here (stored with each transition), so no gradient flows into earlier steps.
    pub fn backward(&mut self, p: &mut Params, dq: &Tensor) -> Result<()> {
        let saved =
            self.saved.take().ok_or_else(|| anyhow!("agent: backward without a recording forward"))?;
        let missing = || anyhow!("agent: a layer returned no input gradient");
        let dh = self.q.backward(p, dq, Want::ALL)?.ok_or_else(missing)?;
        let (dgates, _) = ops::lstm::lstm_cell_bwd(&saved.gates, &saved.c_prev, &saved.c, &dh, None)?;
        self.gate_hidden.backward(p, &dgates, Want::PARAMS)?;
        self.gate_action.backward(p, &dgates, Want::PARAMS)?;
        let df = self.gate_input.backward(p, &dgates, Want::ALL)?.ok_or_else(missing)?;
        let df = self.fc_act.backward(p, &df, Want::ALL)?.ok_or_else(missing)?;
        let dflat = self.fc.backward(p, &df, Want::ALL)?.ok_or_else(missing)?;
        let n = dflat.shape()[0];
        let mut g = dflat.reshape(&[n, 24, 4, 4])?;
        for (i, (conv, act)) in self.convs.iter_mut().enumerate().rev() {
            g = act.backward(p, &g, Want::ALL)?.ok_or_else(missing)?;
            let want = Want { input: i > 0, params: true };
            match conv.backward(p, &g, want)? {
                Some(d) => g = d,
                None if i == 0 => {}
                None => return Err(missing()),
            }
        }
        Ok(())
    }
}
